"""The SIP side of an inbound call: responses to its INVITE, its dialog, its BYE.

No media yet: when a document hangs up right after answering, the 200 OK
carries an SDP answer marked ``a=inactive`` on the discard port, which is the
truth (no RTP flows); the media work replaces this with a real RTP session.
"""

from __future__ import annotations

import asyncio
import logging

from callplane.errors import SipError, SipParseError
from callplane.net.sip_transport import SipTransport
from callplane.sip.dialog import Dialog
from callplane.sip.sdp import build_answer, parse_sdp
from callplane.sip.transaction import ServerTransaction

log = logging.getLogger("callplane.calls")

BYE_WAIT = 40.0  # a little over Timer F, which answers with a synthetic 408
DISCARD_PORT = 9


class InboundLeg:
    def __init__(self, sip: SipTransport, txn: ServerTransaction, public_host: str) -> None:
        self.sip = sip
        self.txn = txn
        self.invite = txn.request
        self.public_host = public_host
        self.dialog: Dialog | None = None
        self._acked = asyncio.Event()

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
        response = self.sip.endpoint.response(self.txn, code, phrase, headers=headers, body=body)
        self.sip.send_response(self.txn, response)

    def accept(self) -> bool:
        """Send 200 OK with an SDP answer; on no common codec send 488 and return False."""
        body = self._answer_sdp()
        if body is None:
            self.respond(488, "Not Acceptable Here")
            return False
        port = self.sip.local_address[1]
        contact = f"<sip:{self.public_host}:{port};transport={self.transport.lower()}>"
        headers = (("Contact", contact), ("Content-Type", "application/sdp"))
        self.respond(200, "OK", headers, body)
        self.dialog = Dialog.from_invite(self.invite, self.txn.local_tag)
        return True

    def _answer_sdp(self) -> bytes | None:
        if not self.invite.body:
            return self._offer_sdp()
        try:
            answer = build_answer(parse_sdp(self.invite.body), self.public_host, DISCARD_PORT)
        except SipParseError as exc:
            log.info("bad SDP offer in %s: %s", self.invite.call_id, exc)
            return None
        if answer is None:
            return None
        return answer.body.replace(b"a=" + answer.direction.encode(), b"a=inactive")

    def _offer_sdp(self) -> bytes:
        family = "IP6" if ":" in self.public_host else "IP4"
        return (
            f"v=0\r\no=Callplane 1 1 IN {family} {self.public_host}\r\ns=Callplane\r\n"
            f"c=IN {family} {self.public_host}\r\nt=0 0\r\n"
            f"m=audio {DISCARD_PORT} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15\r\na=inactive\r\n"
        ).encode()

    def on_ack(self) -> None:
        self._acked.set()

    async def wait_ack(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._acked.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def bye(self) -> bool:
        """Send BYE in the dialog; True when a final response came back."""
        if self.dialog is None:
            return False
        request = self.dialog.create_request("BYE")
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
