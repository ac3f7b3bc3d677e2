"""SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state). Sans-IO.

A transaction never touches a socket or a clock: it is driven by its
``SipEndpoint`` (``endpoint.py``), which passes ``now`` in, and it acts through
the endpoint's small ``TransactionHost`` interface (transmit bytes, arm a
timer, emit an event, forget the transaction). Timers are named as in the RFC:

    INVITE server    (§17.2.1) G retransmit final, H wait for ACK, I absorb ACKs,
                     L (RFC 6026) Accepted lifetime; "2xx" retransmits the 2xx
                     until its ACK (§13.3.1.4); "Trying" sends 100 after 200 ms.
    non-INVITE server (§17.2.2) J absorb request retransmissions.
    INVITE client    (§17.1.1) A retransmit INVITE, B timeout, D absorb finals,
                     M (RFC 6026) absorb 2xx retransmissions.
    non-INVITE client (§17.1.2) E retransmit, F timeout, K absorb responses.

Allowed state changes live in ``TRANSITIONS``; every change goes through
``Transaction._set_state``, which logs old -> new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from callplane.errors import SipError
from callplane.sip.headers import Headers
from callplane.sip.ids import new_tag
from callplane.sip.message import Address, Request, Response, build_response

logger = logging.getLogger("callplane.sip")

TRYING_DELAY = 0.2
TIMER_D = 32.0


class Kind(Enum):
    INVITE_SERVER = "INVITE server"
    NON_INVITE_SERVER = "non-INVITE server"
    INVITE_CLIENT = "INVITE client"
    NON_INVITE_CLIENT = "non-INVITE client"


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


S = State
TRANSITIONS: dict[Kind, dict[State, frozenset[State]]] = {
    Kind.INVITE_SERVER: {
        S.PROCEEDING: frozenset({S.COMPLETED, S.ACCEPTED, S.TERMINATED}),
        S.COMPLETED: frozenset({S.CONFIRMED, S.TERMINATED}),
        S.CONFIRMED: frozenset({S.TERMINATED}),
        S.ACCEPTED: frozenset({S.TERMINATED}),
    },
    Kind.NON_INVITE_SERVER: {
        S.TRYING: frozenset({S.PROCEEDING, S.COMPLETED, S.TERMINATED}),
        S.PROCEEDING: frozenset({S.COMPLETED, S.TERMINATED}),
        S.COMPLETED: frozenset({S.TERMINATED}),
    },
    Kind.INVITE_CLIENT: {
        S.CALLING: frozenset({S.PROCEEDING, S.ACCEPTED, S.COMPLETED, S.TERMINATED}),
        S.PROCEEDING: frozenset({S.ACCEPTED, S.COMPLETED, S.TERMINATED}),
        S.ACCEPTED: frozenset({S.TERMINATED}),
        S.COMPLETED: frozenset({S.TERMINATED}),
    },
    Kind.NON_INVITE_CLIENT: {
        S.TRYING: frozenset({S.PROCEEDING, S.COMPLETED, S.TERMINATED}),
        S.PROCEEDING: frozenset({S.COMPLETED, S.TERMINATED}),
        S.COMPLETED: frozenset({S.TERMINATED}),
    },
}


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 §17.1.1.1 timer base values, in seconds."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


class TransactionHost(Protocol):
    timers: Timers

    def _transmit(self, data: bytes, dest: Address, transport: str) -> None: ...
    def _arm(self, txn: Transaction, name: str, deadline: float) -> None: ...
    def _response(self, txn: ClientTransaction, response: Response) -> None: ...
    def _timed_out(self, txn: Transaction, response: Response | None) -> None: ...
    def _forget(self, txn: Transaction) -> None: ...


def is_reliable(transport: str) -> bool:
    return transport.upper() != "UDP"


class Transaction:
    """State, timers and the wire details shared by all four kinds."""

    kind: Kind

    def __init__(
        self, host: TransactionHost, key: object, request: Request, peer: Address, transport: str
    ) -> None:
        self.host = host
        self.key = key
        self.request = request
        self.peer = peer
        self.transport = transport
        self.state = State.TRYING
        self.timers: dict[str, float] = {}
        self.last_response: Response | None = None

    @property
    def reliable(self) -> bool:
        return is_reliable(self.transport)

    @property
    def method(self) -> str:
        return self.request.method

    def _set_state(self, new: State) -> None:
        old = self.state
        if new is old:
            return
        if new not in TRANSITIONS[self.kind].get(old, frozenset()):
            raise SipError(f"{self.kind.value} transaction cannot go {old.value} -> {new.value}")
        logger.debug("%s %s: %s -> %s", self.kind.value, self.key, old.value, new.value)
        self.state = new
        if new is State.TERMINATED:
            self.timers.clear()
            self.host._forget(self)

    def _start_timer(self, name: str, delay: float, now: float) -> None:
        deadline = now + delay
        self.timers[name] = deadline
        self.host._arm(self, name, deadline)

    def _stop_timers(self, *names: str) -> None:
        for name in names:
            self.timers.pop(name, None)

    def _wait_then_terminate(self, name: str, delay: float, now: float) -> None:
        """Timers I, J, K, D: zero on reliable transports (terminate at once)."""
        if delay <= 0:
            self._set_state(State.TERMINATED)
        else:
            self._start_timer(name, delay, now)

    def fire(self, name: str, now: float) -> None:
        """Run the timer ``name`` (the endpoint checked it is still armed)."""
        handler = self._timer_table().get(name)
        if handler is not None:
            handler(now)

    def _timer_table(self) -> dict[str, Callable[[float], None]]:
        raise NotImplementedError

    def _terminate(self, now: float) -> None:
        self._set_state(State.TERMINATED)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.state.value} {self.key}>"


class ServerTransaction(Transaction):
    """INVITE (§17.2.1 + RFC 6026) or non-INVITE (§17.2.2) server transaction.

    ``local_tag`` is the To tag to put in final responses (auto answers use it).
    ``peer`` is where responses go (§18.2.2 / RFC 3581).
    """

    def __init__(
        self,
        host: TransactionHost,
        key: object,
        request: Request,
        peer: Address,
        transport: str,
        source: Address,
    ) -> None:
        super().__init__(host, key, request, peer, transport)
        self.source = source
        self.kind = Kind.INVITE_SERVER if request.method == "INVITE" else Kind.NON_INVITE_SERVER
        self.state = State.PROCEEDING if self.is_invite else State.TRYING
        self.local_tag = new_tag()
        self.acked = False
        self._last_bytes: bytes | None = None
        self._interval = host.timers.t1

    @property
    def is_invite(self) -> bool:
        return self.kind is Kind.INVITE_SERVER

    @property
    def final_sent(self) -> bool:
        return self.state not in (State.TRYING, State.PROCEEDING)

    def start(self, now: float) -> None:
        if self.is_invite:
            self._start_timer("Trying", TRYING_DELAY, now)

    def send(self, response: Response, now: float) -> None:
        """Pass a response from the TU to the transport (§17.2.1, §17.2.2)."""
        if self.state is State.ACCEPTED and 200 <= response.status < 300:
            self._transmit(response)
            return
        if self.final_sent:
            raise SipError(f"{self!r} already sent its final response")
        self._transmit(response)
        self._stop_timers("Trying")
        if response.status < 200:
            if not self.is_invite:
                self._set_state(State.PROCEEDING)
        elif self.is_invite:
            self._invite_final(response, now)
        else:
            self._set_state(State.COMPLETED)
            self._wait_then_terminate("J", 0 if self.reliable else 64 * self.host.timers.t1, now)

    def _transmit(self, response: Response) -> None:
        self.last_response = response
        self._last_bytes = bytes(response)
        self.host._transmit(self._last_bytes, self.peer, self.transport)

    def _invite_final(self, response: Response, now: float) -> None:
        t1 = self.host.timers.t1
        self._start_timer("H" if response.status >= 300 else "L", 64 * t1, now)
        if response.status >= 300:
            self._set_state(State.COMPLETED)
            if not self.reliable:
                self._start_timer("G", t1, now)
        else:
            self._set_state(State.ACCEPTED)
            self._start_timer("2xx", t1, now)

    def retransmission(self, now: float) -> None:
        """The same request again: resend the last response, if any."""
        if self.state is State.ACCEPTED and self.acked:
            return
        if self._last_bytes is not None and self.state is not State.CONFIRMED:
            self.host._transmit(self._last_bytes, self.peer, self.transport)

    def ack(self, now: float) -> bool:
        """An ACK matched this transaction; True if it is the first ACK of a 2xx."""
        if self.state is State.COMPLETED:
            self._stop_timers("G", "H")
            self._set_state(State.CONFIRMED)
            self._wait_then_terminate("I", 0 if self.reliable else self.host.timers.t4, now)
        elif self.state is State.ACCEPTED and not self.acked:
            self.acked = True
            self._stop_timers("2xx")
            return True
        return False

    def _timer_table(self) -> dict[str, Callable[[float], None]]:
        return {
            "Trying": self._timer_trying,
            "G": self._timer_g,
            "2xx": self._timer_2xx,
            "H": self._timer_h,
            "L": self._timer_l,
            "I": self._terminate,
            "J": self._terminate,
        }

    def _timer_trying(self, now: float) -> None:
        if self.state is State.PROCEEDING and self.last_response is None:
            self._transmit(build_response(self.request, 100))

    def _timer_g(self, now: float) -> None:
        self.retransmission(now)
        self._interval = min(2 * self._interval, self.host.timers.t2)
        self._start_timer("G", self._interval, now)

    def _timer_2xx(self, now: float) -> None:
        self.retransmission(now)
        self._interval = min(2 * self._interval, self.host.timers.t2)
        self._start_timer("2xx", self._interval, now)

    def _timer_h(self, now: float) -> None:
        self.host._timed_out(self, None)
        self._set_state(State.TERMINATED)

    def _timer_l(self, now: float) -> None:
        if not self.acked:
            self.host._timed_out(self, None)
        self._set_state(State.TERMINATED)


class ClientTransaction(Transaction):
    """INVITE (§17.1.1 + RFC 6026) or non-INVITE (§17.1.2) client transaction."""

    def __init__(
        self, host: TransactionHost, key: object, request: Request, peer: Address, transport: str
    ) -> None:
        super().__init__(host, key, request, peer, transport)
        self.kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        self.state = State.CALLING if self.is_invite else State.TRYING
        self._bytes = bytes(request)
        self._ack_bytes: bytes | None = None
        self._interval = host.timers.t1

    @property
    def is_invite(self) -> bool:
        return self.kind is Kind.INVITE_CLIENT

    def start(self, now: float) -> None:
        t1 = self.host.timers.t1
        self.host._transmit(self._bytes, self.peer, self.transport)
        if not self.reliable:
            self._start_timer("A" if self.is_invite else "E", t1, now)
        self._start_timer("B" if self.is_invite else "F", 64 * t1, now)

    def receive(self, response: Response, now: float) -> None:
        if self.is_invite:
            self._invite_response(response, now)
        else:
            self._non_invite_response(response, now)

    def _non_invite_response(self, response: Response, now: float) -> None:
        if self.state is State.COMPLETED:
            return
        self.last_response = response
        if response.status < 200:
            self._set_state(State.PROCEEDING)
        else:
            self._stop_timers("E", "F")
            self._set_state(State.COMPLETED)
            self._wait_then_terminate("K", 0 if self.reliable else self.host.timers.t4, now)
        self.host._response(self, response)

    def _invite_response(self, response: Response, now: float) -> None:
        if self.state is State.COMPLETED:
            if response.status >= 300 and self._ack_bytes is not None:
                self.host._transmit(self._ack_bytes, self.peer, self.transport)
            return
        if self.state is State.ACCEPTED and response.status < 300:
            if response.status >= 200:
                self.host._response(self, response)
            return
        self.last_response = response
        self._stop_timers("A")
        if 200 <= response.status < 300:
            self._stop_timers("B")
            self._set_state(State.ACCEPTED)
            self._start_timer("M", 64 * self.host.timers.t1, now)
        elif response.status >= 300:
            self._complete_invite(response, now)
        else:
            self._set_state(State.PROCEEDING)
        self.host._response(self, response)

    def _complete_invite(self, response: Response, now: float) -> None:
        self._stop_timers("B")
        self._ack_bytes = bytes(build_ack(self.request, response))
        self.host._transmit(self._ack_bytes, self.peer, self.transport)
        self._set_state(State.COMPLETED)
        self._wait_then_terminate("D", 0 if self.reliable else TIMER_D, now)

    def _timer_table(self) -> dict[str, Callable[[float], None]]:
        return {
            "A": self._timer_a,
            "B": self._timeout,
            "D": self._terminate,
            "E": self._timer_e,
            "F": self._timeout,
            "K": self._terminate,
            "M": self._terminate,
        }

    def _timer_a(self, now: float) -> None:
        if self.state is State.CALLING:
            self.host._transmit(self._bytes, self.peer, self.transport)
            self._interval *= 2
            self._start_timer("A", self._interval, now)

    def _timer_e(self, now: float) -> None:
        self.host._transmit(self._bytes, self.peer, self.transport)
        t2 = self.host.timers.t2
        self._interval = t2 if self.state is State.PROCEEDING else min(2 * self._interval, t2)
        self._start_timer("E", self._interval, now)

    def transport_error(self, now: float) -> None:
        """The request could not be sent: report a synthetic 503 (§8.1.3.1), unless a
        final response already came."""
        if self.state not in (State.CALLING, State.TRYING, State.PROCEEDING):
            return
        response = build_response(self.request, 503)
        self.last_response = response
        self.host._timed_out(self, response)
        self._set_state(State.TERMINATED)

    def _timeout(self, now: float) -> None:
        """Timer B/F: report a synthetic 408 (§8.1.3.1)."""
        response = build_response(self.request, 408)
        self.last_response = response
        self.host._timed_out(self, response)
        self._set_state(State.TERMINATED)


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (§17.1.1.3): same branch, To from the response."""
    headers = Headers()
    headers.add("Via", invite.headers.get("Via") or "")
    for name in ("Max-Forwards", "From"):
        value = invite.headers.get(name)
        if value is not None:
            headers.add(name, value)
    headers.add("To", response.headers.get("To") or invite.headers.get("To") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq.seq} ACK")
    for route in invite.headers.lines("Route"):
        headers.add("Route", route)
    return Request("ACK", invite.uri, headers)
