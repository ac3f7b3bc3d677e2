"""The sans-IO SIP endpoint: transaction layer plus the UAS checks of RFC 3261 §8.2.

Bytes and time go in, events, bytes and timer deadlines come out; nothing here
opens a socket or reads a clock::

    ep = SipEndpoint()
    ep.receive(data, ("192.0.2.1", 5060), "UDP", now)
    for event in ep.events(): ...            # RequestReceived, AckReceived, ...
    for data, dest, transport in ep.outgoing(): ...
    deadline = ep.next_timer()               # call ep.handle_timers(now) then

The TU answers with ``send_response(txn, response, now)`` and starts client
transactions with ``send_request(request, dest, transport, now)``.

Handled here without bothering the TU: retransmissions (§17.2), ACKs of
non-2xx responses, CANCEL (200 or 481, §9.2), OPTIONS (200, or 503 while the
TU says it is ``unavailable``: a draining node), unknown methods
(501), unsupported Require (420), Max-Forwards 0 (483, configurable),
unsupported INVITE bodies (415) or Accept (406), and malformed requests (400,
505 or 416 when the message is readable enough to answer). ``receive`` never
raises: what cannot be handled becomes a ``BadMessage`` event.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import weakref
from collections.abc import Iterable

from callplane.errors import SipError, SipParseError
from callplane.sip.events import (
    AckReceived,
    BadMessage,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
)
from callplane.sip.headers import split_commas
from callplane.sip.ids import MAGIC_COOKIE, new_branch, new_tag
from callplane.sip.message import (
    Address,
    Request,
    Response,
    SipMessageError,
    Via,
    build_response,
    parse_message,
)
from callplane.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    State,
    Timers,
    Transaction,
    is_reliable,
)
from callplane.sip.uri import format_host

logger = logging.getLogger("callplane.sip")

# The methods Callplane handles, and so what ``Allow`` lists; any other method is
# answered 501 here (REFER, PRACK, MESSAGE, SUBSCRIBE, PUBLISH ... are not implemented).
KNOWN_METHODS = (
    "INVITE",
    "ACK",
    "CANCEL",
    "BYE",
    "OPTIONS",
    "INFO",
    "REGISTER",
    "NOTIFY",
    "UPDATE",
)
SDP_TYPES = ("application/sdp", "multipart/mixed")
DRAINING_RETRY_AFTER = "60"  # seconds, in 503s of a draining node (OPTIONS, new INVITEs)


class SipEndpoint:
    """Transaction layer and UAS helpers. See the module docstring."""

    def __init__(
        self,
        *,
        t1: float = 0.5,
        t2: float = 4.0,
        t4: float = 5.0,
        user_agent: str = "Callplane",
        supported: Iterable[str] = (),
        reject_zero_max_forwards: bool = True,
    ) -> None:
        self.timers = Timers(t1, t2, t4)
        self.user_agent = user_agent
        self.supported = frozenset(tag.lower() for tag in supported)
        self.reject_zero_max_forwards = reject_zero_max_forwards
        self.allow = ", ".join(KNOWN_METHODS)
        self.unavailable = False  # OPTIONS (a load balancer's probe) gets 503: draining
        self.local_sent_by: Address | None = None
        self._server: dict[object, ServerTransaction] = {}
        self._client: dict[object, ClientTransaction] = {}
        self._accepted: dict[tuple[str, int], ServerTransaction] = {}
        # Timer entries hold transactions weakly: a transaction that terminated early
        # (Timer I after the ACK) is freed at once, not when its Timer H entry expires.
        self._heap: list[tuple[float, int, weakref.ref[Transaction], str]] = []
        self._seq = itertools.count()
        self._events: list[Event] = []
        self._outgoing: list[tuple[bytes, Address, str]] = []

    # -- the sans-IO surface -------------------------------------------------

    def receive(self, data: bytes, source: Address, transport: str, now: float) -> None:
        """Feed one datagram or one framed stream message."""
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self._bad_message(data, source, transport, exc)
            return
        try:
            if isinstance(message, Request):
                self._on_request(message, source, transport, now)
            else:
                self._on_response(message, now)
        except SipParseError as exc:
            self._bad_message(data, source, transport, exc)
        except Exception as exc:  # the boundary: a bug must not kill the server
            logger.exception("internal error handling a message from %s", source)
            error = SipParseError(f"internal error: {exc!r}")
            self._events.append(BadMessage(data, source, transport, error))

    def send_response(self, txn: ServerTransaction, response: Response, now: float) -> None:
        """Send the TU's response through ``txn``; SipError if it already has a final one."""
        if self.user_agent and "Server" not in response.headers:
            response.headers.add("Server", self.user_agent)
        txn.send(response, now)
        if txn.state is State.ACCEPTED:
            self._accepted[(txn.request.call_id, txn.request.cseq.seq)] = txn

    def send_request(
        self, request: Request, dest: Address, transport: str, now: float
    ) -> ClientTransaction:
        """Start a client transaction; a Via with a new branch is added if missing."""
        if request.method == "ACK":
            raise SipError("ACK has no client transaction: use send_ack()")
        self._prepare_request(request, transport)
        key = (request.top_via.branch, request.method)
        txn = ClientTransaction(self, key, request, dest, transport)
        self._client[key] = txn
        txn.start(now)
        return txn

    def send_ack(self, request: Request, dest: Address, transport: str) -> None:
        """Send an ACK for a 2xx (its own transaction, §13.2.2.4) statelessly."""
        self._prepare_request(request, transport)
        self._transmit(bytes(request), dest, transport)

    def client_transaction(self, branch: str, method: str) -> ClientTransaction | None:
        """The live client transaction of ``branch`` and ``method`` (a CANCEL's INVITE)."""
        return self._client.get((branch, method))

    def transport_error(self, dest: Address, transport: str, now: float) -> None:
        """The transport could not reach ``dest`` (§8.1.3.1, §17.1.4): its client
        transactions still waiting for a final response end with a synthetic 503."""
        for txn in list(self._client.values()):
            if txn.peer == dest and txn.transport == transport:
                txn.transport_error(now)

    def events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def outgoing(self) -> list[tuple[bytes, Address, str]]:
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def next_timer(self) -> float | None:
        heap = self._heap
        while heap and not _armed(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def handle_timers(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            txn = entry[2]()
            if txn is not None and txn.timers.get(entry[3]) == entry[0]:
                del txn.timers[entry[3]]
                txn.fire(entry[3], now)

    def response(
        self,
        txn: ServerTransaction,
        status: int,
        reason: str | None = None,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        """``build_response`` for ``txn``'s request with its To tag (none for 100)."""
        to_tag = txn.local_tag if status > 100 else None
        return build_response(
            txn.request, status, reason, to_tag=to_tag, headers=headers, body=body
        )

    @property
    def transaction_count(self) -> int:
        return len(self._server) + len(self._client)

    # -- TransactionHost ---------------------------------------------------

    def _transmit(self, data: bytes, dest: Address, transport: str) -> None:
        self._outgoing.append((data, dest, transport))

    def _arm(self, txn: Transaction, name: str, deadline: float) -> None:
        heapq.heappush(self._heap, (deadline, next(self._seq), weakref.ref(txn), name))

    def _response(self, txn: ClientTransaction, response: Response) -> None:
        self._events.append(ResponseReceived(response, txn))

    def _timed_out(self, txn: Transaction, response: Response | None) -> None:
        assert isinstance(txn, ClientTransaction | ServerTransaction)
        self._events.append(TransactionTimeout(txn, response))

    def _forget(self, txn: Transaction) -> None:
        if isinstance(txn, ServerTransaction):
            if self._server.get(txn.key) is txn:
                del self._server[txn.key]
            accepted_key = (txn.request.call_id, txn.request.cseq.seq)
            if self._accepted.get(accepted_key) is txn:
                del self._accepted[accepted_key]
        elif self._client.get(txn.key) is txn:
            del self._client[txn.key]

    # -- requests --------------------------------------------------------------

    def _on_request(self, request: Request, source: Address, transport: str, now: float) -> None:
        key = server_key(request)
        _fix_via(request, source)
        if request.method == "ACK":
            self._on_ack(request, key, source, transport, now)
            return
        txn = self._server.get(key)
        if txn is not None:
            txn.retransmission(now)
            return
        txn = self._new_server_txn(key, request, source, transport, now)
        if request.method == "CANCEL":
            self._on_cancel(txn, request, now)
            return
        automatic = self._automatic_response(txn, request)
        if automatic is not None:
            self.send_response(txn, automatic, now)
            return
        self._events.append(RequestReceived(request, txn, source, transport))

    def _new_server_txn(
        self, key: object, request: Request, source: Address, transport: str, now: float
    ) -> ServerTransaction:
        peer = response_address(request.top_via, source, transport)
        txn = ServerTransaction(self, key, request, peer, transport, source)
        self._server[key] = txn
        txn.start(now)
        return txn

    def _on_ack(
        self, request: Request, key: object, source: Address, transport: str, now: float
    ) -> None:
        txn = self._server.get(key)
        if txn is None or txn.state is State.ACCEPTED:
            txn = txn or self._accepted.get((request.call_id, request.cseq.seq))
            if txn is None or txn.ack(now):
                self._events.append(AckReceived(request, txn, source, transport))
            return
        if txn.is_invite:
            txn.ack(now)

    def _on_cancel(self, cancel_txn: ServerTransaction, request: Request, now: float) -> None:
        invite = self._server.get(_with_method(cancel_txn.key, "INVITE"))
        if invite is None or not invite.is_invite:
            self.send_response(cancel_txn, self.response(cancel_txn, 481), now)
            return
        ok = build_response(request, 200, to_tag=invite.local_tag)
        self.send_response(cancel_txn, ok, now)
        if not invite.final_sent:
            self._events.append(CancelReceived(invite, request))

    def _automatic_response(self, txn: ServerTransaction, request: Request) -> Response | None:
        method = request.method
        if method not in KNOWN_METHODS:
            return self.response(txn, 501, headers=[("Allow", self.allow)])
        if (
            self.reject_zero_max_forwards
            and method != "OPTIONS"
            and request.headers.get("Max-Forwards") == "0"
        ):
            return self.response(txn, 483)
        unsupported = [
            tag
            for tag in request.headers.get_all("Require")
            if tag and tag.lower() not in self.supported
        ]
        if unsupported:
            return self.response(txn, 420, headers=[("Unsupported", ", ".join(unsupported))])
        if method == "INVITE":
            return self._check_invite_body(txn, request)
        if method == "OPTIONS":
            return self._options_response(txn)
        return None

    def _check_invite_body(self, txn: ServerTransaction, request: Request) -> Response | None:
        content_type = (request.headers.get("Content-Type") or "").partition(";")[0]
        if request.body and content_type.strip().lower() not in SDP_TYPES:
            return self.response(txn, 415, headers=[("Accept", "application/sdp")])
        accept = [a.partition(";")[0].strip().lower() for a in request.headers.get_all("Accept")]
        if accept and not {"application/sdp", "application/*", "*/*"} & set(accept):
            return self.response(txn, 406, headers=[("Accept", "application/sdp")])
        return None

    def _options_response(self, txn: ServerTransaction) -> Response:
        if self.unavailable:
            return self.response(txn, 503, headers=[("Retry-After", DRAINING_RETRY_AFTER)])
        headers = [("Allow", self.allow), ("Accept", "application/sdp")]
        if self.supported:
            headers.append(("Supported", ", ".join(sorted(self.supported))))
        return self.response(txn, 200, headers=headers)

    def _bad_message(
        self, data: bytes, source: Address, transport: str, error: SipParseError
    ) -> None:
        answered = None
        partial = error.partial if isinstance(error, SipMessageError) else None
        if partial is not None and partial.method != "ACK":
            answered = self._answer_bad_request(partial, error, source, transport)
        self._events.append(BadMessage(data, source, transport, error, answered))

    def _answer_bad_request(
        self, partial: Request, error: SipParseError, source: Address, transport: str
    ) -> int | None:
        status = error.status if isinstance(error, SipMessageError) else 400
        try:
            _fix_via(partial, source)
            dest = response_address(partial.top_via, source, transport)
        except SipParseError:
            dest = source  # unreadable Via: answer where it came from
        try:
            detail = "".join(ch for ch in str(error) if ch.isprintable())
            reason = f"Bad Request ({detail})"[:120] if status == 400 else None
            response = build_response(partial, status, reason, to_tag=new_tag())
            response.headers.add("Server", self.user_agent)
            self._transmit(bytes(response), dest, transport)
        except SipParseError:
            return None
        return status

    # -- responses -------------------------------------------------------------

    def _on_response(self, response: Response, now: float) -> None:
        txn = self._client.get((response.top_via.branch, response.cseq.method))
        if txn is None:
            logger.debug("dropping stray response %s", response)
            return
        txn.receive(response, now)

    def _prepare_request(self, request: Request, transport: str) -> None:
        headers = request.headers
        if "Via" not in headers:
            if self.local_sent_by is None:
                raise SipError("request has no Via and the endpoint has no local_sent_by")
            sent_by = format_host(*self.local_sent_by)
            headers.insert_first(
                "Via", f"SIP/2.0/{transport} {sent_by};branch={new_branch()};rport"
            )
        if "Max-Forwards" not in headers:
            headers.add("Max-Forwards", "70")
        if self.user_agent and "User-Agent" not in headers:
            headers.add("User-Agent", self.user_agent)


def _armed(entry: tuple[float, int, weakref.ref[Transaction], str]) -> bool:
    txn = entry[2]()
    return txn is not None and txn.timers.get(entry[3]) == entry[0]


def server_key(request: Request) -> tuple[object, ...]:
    """Transaction key (§17.2.3); RFC 2543 fields when the branch lacks the cookie."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        return (branch, via.host, via.port, method)
    top_via = split_commas(request.headers.get("Via") or "")[0]
    return (
        "2543",
        request.uri,
        request.from_addr.tag,
        request.call_id,
        request.cseq.seq,
        top_via,
        method,
    )


def _with_method(key: object, method: str) -> object:
    assert isinstance(key, tuple)
    return (*key[:-1], method)


def _fix_via(request: Request, source: Address) -> None:
    """Add ``received`` (§18.2.1) and fill ``rport`` (RFC 3581) in the top Via."""
    via = request.top_via
    rport = "rport" in via.params and not via.params["rport"]
    if via.host == source[0] and not rport:
        return
    via.params["received"] = source[0]
    if rport:
        via.params["rport"] = str(source[1])
    request.headers.replace_first("Via", str(via))


def response_address(via: Via, source: Address, transport: str) -> Address:
    """Where responses go (§18.2.2, RFC 3581 §4): the connection, or received:rport."""
    if is_reliable(transport):
        return source
    maddr = via.params.get("maddr")
    if maddr:
        return maddr, via.port or 5060
    host = via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport and rport.isdigit():
        return host.strip("[]"), int(rport)
    return host.strip("[]"), via.port or 5060
