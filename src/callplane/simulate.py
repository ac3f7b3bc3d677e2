"""``callplane call simulate``: a real SIP test call from a built-in user agent.

The caller is Callplane's own SIP core acting as a user agent client: INVITE
with an SDP offer, provisional and final responses printed as they come, ACK,
RTP received (and digits sent as RFC 4733 events), BYE from either side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from callplane.media.pcm import rms
from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import RtpSession
from callplane.net.sip_transport import SipTransport
from callplane.sip.dialog import Dialog
from callplane.sip.events import Event, RequestReceived, ResponseReceived
from callplane.sip.headers import Headers
from callplane.sip.ids import new_call_id, new_tag
from callplane.sip.message import Request, Response
from callplane.sip.sdp import build_offer, parse_sdp, read_answer

SIMULATOR_PORTS = "41000-41999"


@dataclass
class Simulation:
    statuses: list[int] = field(default_factory=list)
    answered: bool = False
    hung_up_by: str = ""
    frames: int = 0
    loud_frames: int = 0

    @property
    def audio_seconds(self) -> float:
        return self.frames * 0.02


class Simulator:
    def __init__(self, target: tuple[str, int], report: Callable[[str], None]) -> None:
        self.target = target
        self.report = report
        self.result = Simulation()
        self.bye = asyncio.Event()
        self.sip = SipTransport(self._on_event)
        self.rtp: RtpSession | None = None

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ResponseReceived) and event.response.status < 200:
            self._heard(event.response)
        elif isinstance(event, RequestReceived) and event.request.method == "BYE":
            response = self.sip.endpoint.response(event.transaction, 200)
            self.sip.send_response(event.transaction, response)
            self.report("<- BYE (Callplane hung up); -> 200 OK")
            self.result.hung_up_by = "callplane"
            self.bye.set()

    def _heard(self, response: Response) -> None:
        self.result.statuses.append(response.status)
        self.report(f"<- {response.status} {response.reason}")

    def _audio(self, frame: np.ndarray) -> None:
        self.result.frames += 1
        self.result.loud_frames += rms(frame) > 200

    async def run(
        self, from_number: str, to_number: str, *, hangup_after: float, digits: str
    ) -> Simulation:
        await self.sip.start(self.target[0], 0)
        self.rtp = await RtpSession.open(
            PortAllocator.parse(SIMULATOR_PORTS), self.target[0], on_audio=self._audio
        )
        try:
            invite = self._invite(from_number, to_number)
            self.report(f"-> INVITE {invite.uri}")
            final = await self.sip.send_request(invite, self.target, "UDP")
            self._heard(final)
            if 200 <= final.status < 300:
                await self._talk(invite, final, hangup_after, digits)
        finally:
            await self.rtp.close()
            await self.sip.close()
        return self.result

    def _invite(self, from_number: str, to_number: str) -> Request:
        assert self.rtp is not None
        host, port = self.sip.local_address
        remote = f"{self.target[0]}:{self.target[1]}"
        headers = Headers(
            [
                ("From", f"<sip:{from_number}@{host}>;tag={new_tag()}"),
                ("To", f"<sip:{to_number}@{remote}>"),
                ("Call-ID", new_call_id(host)),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:{from_number}@{host}:{port}>"),
                ("Content-Type", "application/sdp"),
            ]
        )
        return Request(
            "INVITE", f"sip:{to_number}@{remote}", headers, build_offer(host, self.rtp.local_port)
        )

    async def _talk(self, invite: Request, ok: Response, hangup_after: float, digits: str) -> None:
        assert self.rtp is not None
        self.result.answered = True
        dialog = Dialog.from_response(invite, ok)
        self.sip.send_ack(dialog.create_request("ACK"), self.target, "UDP")
        self.report("-> ACK")
        answer = read_answer(parse_sdp(ok.body)) if ok.body else None
        if answer is not None:
            self.rtp.set_remote(
                answer.remote[0], answer.remote[1], answer.payload_type, answer.telephone_event
            )
        if digits and answer is not None:
            await asyncio.sleep(1.0)
            self.report(f"-> DTMF {digits} (RFC 4733)")
            await self.rtp.send_dtmf(digits)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.bye.wait(), hangup_after)
        if not self.bye.is_set():
            self.report("-> BYE")
            self.result.hung_up_by = "caller"
            response = await self.sip.send_request(dialog.create_request("BYE"), self.target, "UDP")
            self._heard(response)


async def simulate(
    target: tuple[str, int],
    from_number: str,
    to_number: str,
    *,
    hangup_after: float = 10.0,
    digits: str = "",
    report: Callable[[str], None] = print,
) -> Simulation:
    return await Simulator(target, report).run(
        from_number, to_number, hangup_after=hangup_after, digits=digits
    )
