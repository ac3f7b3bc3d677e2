"""The SIP side of an inbound call: responses to its INVITE, its media, its dialog, its BYE.

Media is opened on the first answer or early-media response: the offer in the
INVITE is answered (PCMU/PCMA + telephone-event), or, for an INVITE without
SDP, our offer goes in the 200 OK and the caller's answer arrives in the ACK.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from callplane.errors import SipError, SipParseError
from callplane.media.call_media import CallMedia
from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import RtpSession
from callplane.net.sip_transport import SipTransport
from callplane.rtp.errors import RtpError
from callplane.sip.dialog import Dialog
from callplane.sip.message import Request
from callplane.sip.sdp import (
    Answer,
    build_answer,
    build_offer,
    parse_sdp,
    read_answer,
    sends,
)
from callplane.sip.transaction import ServerTransaction

log = logging.getLogger("callplane.calls")

BYE_WAIT = 40.0  # a little over Timer F, which answers with a synthetic 408


def point_at(session: RtpSession, answer: Answer) -> None:
    """Send ``session``'s RTP where the negotiated SDP says, with its codecs; nothing
    while our direction there is ``recvonly``/``inactive`` (the peer holds the call)."""
    ip, port = answer.remote
    session.on_hold = not sends(answer.direction)
    session.set_remote(ip, port, answer.payload_type, answer.telephone_event)


def use_sdp_answer(session: RtpSession, body: bytes, where: str) -> None:
    """Point ``session`` at the SDP answer in ``body``; bad SDP is logged and ignored."""
    try:
        answer = read_answer(parse_sdp(body)) if body else None
    except SipParseError as exc:
        log.info("bad SDP answer in %s: %s", where, exc)
        return
    if answer is not None:
        point_at(session, answer)


class InboundLeg:
    def __init__(
        self,
        sip: SipTransport,
        txn: ServerTransaction,
        public_host: str,
        ports: PortAllocator,
        rtp_host: str,
    ) -> None:
        self.sip = sip
        self.txn = txn
        self.invite = txn.request
        self.public_host = public_host
        self.ports = ports
        self.rtp_host = rtp_host
        self.dialog: Dialog | None = None
        self.media: CallMedia[RtpSession] | None = None
        self.local_sdp = b""
        self._acked = asyncio.Event()
        self.received_at = time.monotonic()
        self.on_final: Callable[[float], None] | None = None  # seconds to the final response

    @property
    def transport(self) -> str:
        return self.txn.transport

    def respond(
        self,
        code: int,
        phrase: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        if self.txn.final_sent:
            return
        response = self.sip.endpoint.response(self.txn, code, phrase, headers=headers, body=body)
        self.sip.send_response(self.txn, response)
        if code >= 200 and self.on_final is not None:
            self.on_final(time.monotonic() - self.received_at)

    async def open_media(self) -> CallMedia[RtpSession] | None:
        """Bind RTP and prepare our SDP; None after sending 488 when no codec is common."""
        if self.media is not None:
            return self.media
        try:
            session = await RtpSession.open(self.ports, self.rtp_host)
        except RtpError as exc:
            log.warning("no RTP port for %s: %s", self.invite.call_id, exc)
            self.respond(503, "Service Unavailable")
            return None
        if not self.invite.body:
            self.local_sdp = build_offer(self.public_host, session.local_port)
        else:
            answer = self._answer(session.local_port)
            if answer is None:
                await session.close()
                self.respond(488, "Not Acceptable Here")
                return None
            point_at(session, answer)
            self.local_sdp = answer.body
        self.media = CallMedia(session)
        return self.media

    def _answer(self, port: int) -> Answer | None:
        try:
            return build_answer(parse_sdp(self.invite.body), self.public_host, port)
        except SipParseError as exc:
            log.info("bad SDP offer in %s: %s", self.invite.call_id, exc)
            return None

    def early_media(self) -> None:
        """183 Session Progress with our SDP (``PreAnswer``)."""
        self.respond(183, "Session Progress", self._sdp_headers(), self.local_sdp)

    def accept(self) -> None:
        """200 OK with our SDP; the dialog starts."""
        self.respond(200, "OK", self._sdp_headers(), self.local_sdp)
        self.dialog = Dialog.from_invite(self.invite, self.txn.local_tag)

    def _sdp_headers(self) -> tuple[tuple[str, str], ...]:
        port = self.sip.local_address[1]
        contact = f"<sip:{self.public_host}:{port};transport={self.transport.lower()}>"
        return (("Contact", contact), ("Content-Type", "application/sdp"))

    def on_ack(self, ack: Request) -> None:
        if ack.body and self.media is not None and not self.invite.body:
            use_sdp_answer(self.media.session, ack.body, f"ACK for {self.invite.call_id}")
        self._acked.set()

    async def wait_ack(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._acked.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close_media(self) -> None:
        if self.media is not None:
            log.info("media of %s ended: %s", self.invite.call_id, self.media.session.stats())
            await self.media.close()

    async def bye(self, headers: tuple[tuple[str, str], ...] = ()) -> bool:
        """Send BYE in the dialog (with ``headers``); True when a final response came back."""
        if self.dialog is None:
            return False
        request = self.dialog.create_request("BYE")
        for name, value in headers:
            request.headers.add(name, value)
        try:
            dest, transport = self._bye_destination()
            response = await asyncio.wait_for(
                self.sip.send_request(request, dest, transport), BYE_WAIT
            )
        except (SipError, TimeoutError, OSError) as exc:
            log.info("BYE for %s failed: %s", self.invite.call_id, exc)
            return False
        return response.status != 408

    def _bye_destination(self) -> tuple[tuple[str, int], str]:
        assert self.dialog is not None
        if self.transport == "TCP":  # reuse the caller's connection
            return self.txn.source, "TCP"
        host, port, transport = self.dialog.next_hop()
        return (host, port or 5060), transport
