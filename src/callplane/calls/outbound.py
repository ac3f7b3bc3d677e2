"""The B leg of a Dial: Callplane as a SIP UAC towards one destination.

An ``OutboundLeg`` sends an INVITE with our SDP offer (RTP port bound first),
reports provisional responses (180/183 = ringing), answers 401/407 once through
``sip.auth.digest_flow`` when it has credentials, ACKs a 2xx (the transaction
ACKs non-2xx itself), and ends with CANCEL (ringing), BYE (answered) or the far
end's refusal or BYE. It owns one call record (direction ``outbound``,
``parent_call_uuid`` = the A leg), written when it starts and when it ends.
A call placed over REST (``control/originate.py``) is one such leg with
``shares_record``: its ``parent`` is that call, which keeps the only record. An
``internal`` leg (a conference member's link to the node that owns the room,
``verbs/conference_remote.py``) has no record of its own and leaves the parent's alone.

CANCEL follows RFC 3261 §9.1: it is sent only once a provisional response came;
a leg given up before that sends it when the first provisional arrives, and a
2xx that arrives after giving up is ACKed and hung up at once (BYE).

Where ``<Number>`` goes: through the account's SIP trunk for that number
(``calls/trunks.py``: longest prefix, number and caller-id rewrite, the trunk's
credentials for its 401/407; no trunk: the Dial fails, cause NO_ROUTE_DESTINATION).
``<User>``/``<Sip>`` URIs go where they say, except ``sip:name@...`` whose user is
a registered endpoint: its registrar bindings (through their Path, when they
registered through a proxy).

``OutboundLegs`` (``Services.outbound``) finds the live B legs by Call-ID for
the router: provisional and retransmitted 2xx responses, and in-dialog requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from callplane.calls import causes
from callplane.calls.call import new_call_uuid, utcnow
from callplane.calls.causes import Cause
from callplane.calls.leg import use_sdp_answer
from callplane.calls.records import bill, end_record
from callplane.calls.reoffer import respond_to_reoffer
from callplane.calls.trunks import choose_trunk, number_uri
from callplane.errors import SipError
from callplane.net.rtp_session import RtpSession
from callplane.rtp.errors import RtpError
from callplane.sip.auth import digest_flow
from callplane.sip.dialog import Dialog
from callplane.sip.events import Address, Event, RequestReceived, ResponseReceived
from callplane.sip.headers import Headers
from callplane.sip.ids import new_call_id, new_tag
from callplane.sip.message import Request, Response
from callplane.sip.sdp import build_offer
from callplane.sip.uri import SipUri
from callplane.store.models import CallRecord, Trunk

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.calls.registrar import Registrar

log = logging.getLogger("callplane.calls")

BYE_WAIT = 40.0  # a little over Timer F


@dataclass(frozen=True, slots=True)
class Destination:
    uri: str  # Request-URI and To
    address: Address
    transport: str = "UDP"
    username: str = ""
    password: str = ""
    caller_id: str = ""  # a trunk's fixed caller id ("" keeps the Dial's)
    route: tuple[str, ...] = ()  # Route header values: a binding's Path (RFC 3327)


def number_destination(number: str, trunks: Sequence[Trunk]) -> Destination | None:
    """``number`` through the trunk ``calls/trunks.py`` picks among ``trunks`` (the
    table's ``of(account)``); None when no trunk serves it."""
    trunk = choose_trunk(trunks, number)
    if trunk is None:
        return None
    address = (trunk.host, trunk.port)  # port 0: RFC 3263 NAPTR/SRV (net/resolver.py)
    transport = trunk.transport.upper()
    uri = number_uri(trunk, number)
    return Destination(uri, address, transport, trunk.username, trunk.password, trunk.caller_id)


def uri_destinations(
    uri: str, registrar: Registrar | None, username: str = "", password: str = ""
) -> list[Destination]:
    """A SIP URI as given, or a registered endpoint's contacts when its user is one."""
    parsed = SipUri.parse(uri.strip())
    bindings = registrar.lookup(parsed.user) if registrar and parsed.user else []
    if bindings:
        found = []
        for binding in bindings:
            address, transport = binding.destination()
            uri = str(binding.contact.uri)
            found.append(Destination(uri, address, transport, route=binding.path))
        return found
    transport = (parsed.params.get("transport") or "udp").upper()
    default_port = 5061 if parsed.scheme == "sips" else 5060
    address = (parsed.host.strip("[]"), parsed.port or default_port)
    return [Destination(str(parsed), address, transport, username, password)]


class LegState(Enum):
    CALLING = "calling"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


_TRANSITIONS = {
    LegState.CALLING: {LegState.RINGING, LegState.ANSWERED, LegState.ENDED},
    LegState.RINGING: {LegState.ANSWERED, LegState.ENDED},
    LegState.ANSWERED: {LegState.ENDED},
    LegState.ENDED: set(),
}


class OutboundLeg:
    """One B leg; see the module docstring. ``on_change`` is called on every state change."""

    def __init__(
        self,
        parent: Call,
        destination: Destination,
        caller_id: str,
        caller_name: str,
        on_change: Callable[[], None] = lambda: None,
        *,
        shares_record: bool = False,
        internal: bool = False,
    ) -> None:
        self.parent = parent
        # A call placed over REST is this leg itself: ``parent`` is that call and keeps
        # the one record; the leg only reports how its INVITE ended (cause, end_source).
        self.shares_record = shares_record
        self.writes_record = not (shares_record or internal)
        self.services = parent.services
        self.sip = parent.leg.sip
        self.destination = destination
        self.on_change = on_change
        self.caller_id = destination.caller_id or caller_id
        self.caller_name = caller_name
        self.state = LegState.CALLING
        self.heard = False  # any response at all from the destination
        self.rang = False  # a 180 or 183
        self.given_up = False
        self.cause: Cause | None = None
        self.invite: Request | None = None
        self.ack: Request | None = None
        self.dialog: Dialog | None = None
        self.rtp: RtpSession | None = None
        self.extra_headers: tuple[tuple[str, str], ...] = ()  # e.g. Dial sipHeaders (X-PH-*)
        self.early_media = False  # a 183 carried SDP: ``rtp`` hears the destination already
        self.ended = asyncio.Event()
        self._cancel_sent = False
        self._transaction_done = False
        self.end_source = ""
        self.sip_code = 0  # the final non-2xx that refused the INVITE, if one did
        self.far_bye: Request | None = None  # the destination's BYE, when it hung up
        self.record = parent.record if shares_record else self._new_record(parent, destination)

    def _new_record(self, parent: Call, destination: Destination) -> CallRecord:
        target = SipUri.parse(destination.uri)
        return CallRecord(
            call_uuid=new_call_uuid(),
            auth_id=parent.record.auth_id,
            from_number=self.caller_id,
            to_number=target.user or destination.uri,
            call_direction="outbound",
            caller_name=self.caller_name,
            app_id=parent.record.app_id,
            initiation_time=utcnow(),
            total_rate=parent.record.total_rate,
            parent_call_uuid=parent.uuid,
        )

    @property
    def uuid(self) -> str:
        return self.record.call_uuid

    @property
    def answered(self) -> bool:
        return self.state is LegState.ANSWERED

    def _set_state(self, new: LegState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"B leg {self.uuid}: {self.state.value} -> {new.value}")
        log.debug("B leg %s %s -> %s", self.uuid, self.state.value, new.value)
        self.state = new
        self.on_change()

    # -- starting -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind RTP and send the INVITE; a leg that cannot start ends at once (failed)."""
        if self.writes_record:
            self.services.records.put(self.record)
        settings = self.services.settings
        try:
            self.rtp = await RtpSession.open(self.services.ports, settings.sip_host)
        except RtpError as exc:
            log.warning("no RTP port for B leg %s: %s", self.uuid, exc)
            self.finish(causes.DESTINATION_FAILED, causes.SOURCE_PLATFORM)
            return
        if self.given_up:  # the caller left while the port was being bound
            self.finish(self.cause or causes.CANCELLED, causes.SOURCE_CALLER)
            return
        self.invite = self._build_invite(settings.public_host, self.rtp.local_port)
        legs = self.services.outbound
        if legs is not None:
            legs.legs[self.invite.call_id] = self
        self.services.tracer.follow(
            self.parent,
            self.invite.call_id,
            self.destination.uri,
            self.destination.address,
            self.uuid,
        )
        self.services.spawn(self._transact(self.invite))

    def _build_invite(self, host: str, rtp_port: int) -> Request:
        port = self.sip.local_address[1]
        name = f'"{self.caller_name}" ' if self.caller_name else ""
        # an endpoint's call has caller id sip:username@host: its From user is the username
        user = self.caller_id.removeprefix("sip:").partition("@")[0] or "callplane"
        headers = Headers(
            [
                ("From", f"{name}<sip:{user}@{host}>;tag={new_tag()}"),
                ("To", f"<{self.destination.uri}>"),
                ("Call-ID", new_call_id(host)),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:{user}@{host}:{port}>"),
                ("Content-Type", "application/sdp"),
                *(("Route", hop) for hop in self.destination.route),
                *self.extra_headers,
            ]
        )
        return Request("INVITE", self.destination.uri, headers, build_offer(host, rtp_port))

    async def _transact(self, invite: Request) -> None:
        dest = self.destination
        flow = digest_flow(invite, dest.username, dest.password) if dest.username else None
        request = next(flow) if flow else invite
        try:
            while True:
                self.invite = request
                response = await self.sip.send_request(request, dest.address, dest.transport)
                if flow is None or response.status not in (401, 407) or self.given_up:
                    break
                try:
                    request = flow.send(response)
                except StopIteration as stop:
                    response = stop.value
                    break
            self._final(response)
        except (SipError, OSError) as exc:
            log.info("B leg %s: INVITE failed: %s", self.uuid, exc)
            self.finish(causes.DESTINATION_FAILED, causes.SOURCE_PLATFORM)
        finally:
            self._transaction_done = True
            if self.ended.is_set() and self.dialog is None:
                self._forget()

    # -- responses ------------------------------------------------------------------------

    def on_response(self, response: Response) -> None:
        """Every response to our INVITE, as the transport reports it (before the final)."""
        self.heard = True
        if response.status < 200:
            self._provisional(response)
        elif response.status < 300 and self.ack is not None:
            self._send_ack()  # a retransmitted 2xx: our ACK was lost (§13.2.2.4)

    def _provisional(self, response: Response) -> None:
        if self.given_up:
            self._send_cancel()
            return
        if response.status == 183 and response.body and self.rtp is not None:
            use_sdp_answer(self.rtp, response.body, f"the 183 of B leg {self.uuid}")
            if not self.early_media:
                self.early_media = True
                self.on_change()
        if response.status in (180, 183) and not self.rang:
            self.rang = True
            self.record.call_status = "ringing"
            if self.state is LegState.CALLING:
                self._set_state(LegState.RINGING)
            else:
                self.on_change()

    def _final(self, response: Response) -> None:
        if 200 <= response.status < 300:
            self._answered(response)
        elif not self.ended.is_set() and response.status == 503 and not self.heard:
            # the transport's synthetic 503: the host does not resolve or refused TCP
            log.info("B leg %s: %s", self.uuid, response.headers.get("Warning") or "unreachable")
            self.finish(causes.DESTINATION_FAILED, causes.SOURCE_PLATFORM, response.status)
        elif not self.ended.is_set():
            timed_out = response.status == 408 and not self.heard
            cause = causes.DIAL_TIMEOUT if timed_out else causes.dial_cause(response.status)
            self.finish(cause, causes.SOURCE_CALLEE, response.status)

    def _answered(self, response: Response) -> None:
        assert self.invite is not None
        try:
            self.dialog = Dialog.from_response(self.invite, response)
        except SipError as exc:
            log.info("B leg %s: unusable 2xx: %s", self.uuid, exc)
            return
        self._send_ack()
        if self.given_up or self.ended.is_set():
            self.services.spawn(self._bye())
            return
        if self.rtp is not None:
            use_sdp_answer(self.rtp, response.body, f"the 200 of B leg {self.uuid}")
        self.record.answer_time = utcnow()
        self.record.call_status = "in-progress"
        self.record.sip_response_code = response.status
        if self.writes_record:
            self.services.records.put(self.record)  # a crash from now on still bills the leg
        self._set_state(LegState.ANSWERED)

    def _send_ack(self) -> None:
        assert self.dialog is not None
        if self.ack is None:
            self.ack = self.dialog.create_request("ACK")
        self.sip.send_ack(self.ack, *self._dialog_destination())

    def _dialog_destination(self) -> tuple[Address, str]:
        assert self.dialog is not None
        if self.destination.transport != "UDP":
            return self.destination.address, self.destination.transport
        host, port, transport = self.dialog.next_hop()
        return (host, port or 5060), transport

    # -- ending ---------------------------------------------------------------------------

    def give_up(self, cause: Cause, source: str = causes.SOURCE_PLATFORM) -> None:
        """Stop ringing: CANCEL now if a provisional came, else when one comes."""
        if self.ended.is_set() or self.answered:
            return
        self.given_up = True
        self.cause = cause
        if self.heard:
            self._send_cancel()
        if self.invite is not None:
            self.finish(cause, source)

    def _send_cancel(self) -> None:
        if self._cancel_sent or self.invite is None or self._transaction_done:
            return
        self._cancel_sent = True
        invite = self.invite
        headers = Headers([("Via", invite.headers.get("Via") or "")])
        for value in invite.headers.lines("Route"):
            headers.add("Route", value)
        for name in ("From", "To", "Call-ID"):
            headers.add(name, invite.headers.get(name) or "")
        headers.add("CSeq", f"{invite.cseq.seq} CANCEL")
        headers.add("Max-Forwards", "70")
        cancel = Request("CANCEL", invite.uri, headers)
        dest = self.destination
        future = self.sip.send_request(cancel, dest.address, dest.transport)
        future.add_done_callback(lambda _: None)

    async def hangup(self, cause: Cause, source: str = causes.SOURCE_PLATFORM) -> None:
        """End an answered leg with BYE (or give up a ringing one)."""
        if not self.answered:
            self.give_up(cause, source)
            return
        self.finish(cause, source)
        await self._bye()

    async def _bye(self) -> None:
        if self.dialog is None:
            return
        request = self.dialog.create_request("BYE")
        try:
            await asyncio.wait_for(
                self.sip.send_request(request, *self._dialog_destination()), BYE_WAIT
            )
        except (SipError, TimeoutError, OSError) as exc:
            log.info("BYE for B leg %s failed: %s", self.uuid, exc)
        finally:
            self._forget()

    def on_request(self, event: RequestReceived) -> None:
        """An in-dialog request from the destination: BYE ends the leg; re-INVITE and
        UPDATE hold, resume or move its media (``calls/reoffer.py``)."""
        request, txn = event.request, event.transaction
        matches = self.dialog is not None and self.dialog.matches(request)
        if matches and request.method in ("INVITE", "UPDATE"):
            host = self.services.settings.public_host
            log.info("B leg %s: %s", self.uuid, respond_to_reoffer(self.sip, txn, self.rtp, host))
            return
        status = 200 if matches else 481
        self.sip.send_response(txn, self.sip.endpoint.response(txn, status))
        if matches and request.method == "BYE":
            self.far_bye = request
            self.finish(causes.NORMAL_HANGUP, causes.SOURCE_CALLEE)
            self._forget()

    def finish(self, cause: Cause, source: str, sip_code: int = 0) -> None:
        """End the leg's record (once) and free its media."""
        if self.ended.is_set():
            return
        was_answered = self.answered
        self.cause, self.end_source, self.sip_code = cause, source, sip_code
        if self.writes_record:
            end_record(self.record, cause, source, utcnow(), sip_code)
            if was_answered:
                bill(self.record, self.parent.route.account)
            self.services.records.put(self.record)
        self.ended.set()
        self._set_state(LegState.ENDED)
        if self.rtp is not None:
            if was_answered or self.early_media:
                self._trace_media(self.rtp)
            self.services.spawn(self.rtp.close())
        if self._transaction_done and self.dialog is None:
            self._forget()

    def _trace_media(self, rtp: RtpSession) -> None:
        trace = self.parent.trace
        party = (
            self.services.tracer.party_of(self.parent, self.invite.call_id) if self.invite else None
        )
        if trace is not None and party is not None:
            trace.media_ended(party, rtp.stats())

    def _forget(self) -> None:
        legs = self.services.outbound
        call_id = self.invite.call_id if self.invite is not None else ""
        if legs is not None and legs.legs.get(call_id) is self:
            del legs.legs[call_id]


class OutboundLegs:
    """The live B legs by SIP Call-ID, and the registrar that finds endpoints."""

    def __init__(self, registrar: Registrar | None = None) -> None:
        self.registrar = registrar
        self.legs: dict[str, OutboundLeg] = {}

    def on_event(self, event: Event) -> bool:
        """Hand a B leg what is its own; False when the event is not about a B leg."""
        if isinstance(event, ResponseReceived):
            leg = self.legs.get(event.response.call_id)
            if leg is not None and event.response.cseq.method == "INVITE":
                leg.on_response(event.response)
            return leg is not None
        if isinstance(event, RequestReceived) and event.request.to_addr.tag is not None:
            leg = self.legs.get(event.request.call_id)
            if leg is not None:
                with contextlib.suppress(SipError):
                    leg.on_request(event)
                return True
        return False
