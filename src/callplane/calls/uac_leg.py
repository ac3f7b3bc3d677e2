"""The SIP side of a call Callplane placed (REST ``POST /Call/``): we are the UAC.

``UacLeg`` gives ``Call`` the same surface an ``InboundLeg`` does, over one
``OutboundLeg`` (the INVITE to the callee, shared with Dial): the verbs run only
once the callee answered, so the answering methods have nothing left to send;
``open_media`` hands over the RTP session bound for our offer, ``bye`` sends BYE
in the dialog, and a refusal asked for while ringing (API hangup, shutdown) is a
CANCEL. How the INVITE ends, or the callee's BYE, ends the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callplane.calls import causes
from callplane.calls.outbound import LegState, OutboundLeg
from callplane.media.call_media import CallMedia
from callplane.net.rtp_session import RtpSession
from callplane.net.sip_transport import SipTransport
from callplane.sip.dialog import Dialog
from callplane.sip.message import Request

if TYPE_CHECKING:
    from callplane.calls.call import Call


class UacLeg:
    def __init__(self, sip: SipTransport) -> None:
        self.sip = sip
        self.media: CallMedia[RtpSession] | None = None
        self.call: Call | None = None
        self.uac: OutboundLeg | None = None

    def attach(self, call: Call, uac: OutboundLeg) -> None:
        """Bind to ``call`` and its INVITE; ``uac.on_change`` also goes to ``watch``."""
        self.call, self.uac = call, uac
        watch = uac.on_change

        def changed() -> None:
            self._changed()
            watch()

        uac.on_change = changed

    @property
    def invite(self) -> Request | None:
        return self.uac.invite if self.uac else None

    @property
    def dialog(self) -> Dialog | None:
        return self.uac.dialog if self.uac else None

    def _changed(self) -> None:
        """The INVITE ended unanswered, or the callee hung up: the call ends too."""
        call, uac = self.call, self.uac
        if call is None or uac is None or uac.state is not LegState.ENDED or call.ended:
            return
        cause = uac.cause or causes.DESTINATION_FAILED
        if call.answered:
            call.finish(cause, causes.SOURCE_CALLEE)
            if call.task is not None:
                call.task.cancel()
        else:
            call.finish(cause, uac.end_source or causes.SOURCE_PLATFORM, uac.sip_code)

    def respond(
        self,
        code: int,
        phrase: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        """Only a refusal means anything here: stop ringing the callee (CANCEL)."""
        if code >= 300 and self.uac is not None:  # BYE if it answered meanwhile
            self.uac.services.spawn(self.uac.hangup(causes.CANCELLED, causes.SOURCE_PLATFORM))

    async def open_media(self) -> CallMedia[RtpSession] | None:
        if self.media is None and self.uac is not None and self.uac.rtp is not None:
            self.media = CallMedia(self.uac.rtp)
        return self.media

    def early_media(self) -> None:
        """Nothing to send: the callee answered before any verb ran."""

    def accept(self) -> None:
        """Nothing to send: the callee's 200 OK is already ACKed."""

    def on_ack(self, ack: Request) -> None:
        """No ACK comes to a UAC."""

    async def wait_ack(self, timeout: float) -> bool:
        return True

    async def close_media(self) -> None:
        if self.media is not None:
            await self.media.close()

    async def bye(self) -> bool:
        if self.uac is None or not self.uac.answered:
            return False
        await self.uac.hangup(causes.NORMAL_HANGUP)
        return True
