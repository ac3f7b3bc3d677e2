"""The far side of a Dial's B legs: a SIP peer that answers each INVITE from a script.

``FakeSip`` stands where ``SipTransport`` does (``leg.sip``) and speaks real
``Request``/``Response`` objects: provisional responses reach the B leg through
``OutboundLegs.on_event``, as the router hands them over; the final response
resolves the INVITE's future. A CANCEL is answered 200 and the INVITE 487, as a
UAS does; an INVITE nobody answers gets the synthetic 408 of Timer B (32 s).

``Phone`` is a far end's RTP port on the test loop's in-memory network: it keeps
the packets it hears and sends audio and RFC 4733 keys, for Dials that bridge.
"""

from __future__ import annotations

import asyncio
from typing import Any

from callplane.rtp.dtmf import DIGITS, DtmfEvent, digit_to_event
from callplane.rtp.packet import RtpPacket
from callplane.sip.events import ResponseReceived
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response
from callplane.sip.sdp import build_offer

Address = tuple[str, int]
TIMER_B = 32.0
Step = int | float | tuple[int, bytes]  # a status, a pause in seconds, or (status, SDP body)


def sdp(port: int, host: str = "127.0.0.1") -> bytes:
    """A callee's SDP answer: PCMU and telephone-event at ``host:port``."""
    return build_offer(host, port, session_id=1)


class FakeSip:
    local_address: Address = ("127.0.0.1", 5060)

    def __init__(self) -> None:
        self.outbound: Any = None  # the OutboundLegs the provisional responses go to
        self.scripts: dict[str, tuple[Step, ...]] = {}
        self.sent: list[tuple[Request, Address, str]] = []
        self.acks: list[Request] = []
        self._invites: dict[str, tuple[Request, asyncio.Future[Response]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def callee(self, user: str, *steps: Step) -> None:
        """How the destination whose Request-URI user is ``user`` answers an INVITE."""
        self.scripts[user] = steps

    def requests(self, method: str) -> list[Request]:
        return [request for request, _, _ in self.sent if request.method == method]

    def send_request(
        self, request: Request, dest: Address, transport: str = "UDP"
    ) -> asyncio.Future[Response]:
        self.sent.append((request, dest, transport))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        if request.method == "INVITE":
            self._invites[request.call_id] = (request, future)
            steps = self.scripts.get(request.sip_uri.user or "", ())
            self._tasks.append(asyncio.ensure_future(self._answer(request, future, steps)))
            loop.call_later(TIMER_B, _resolve, future, response(request, 408))
        elif request.method == "CANCEL":
            future.set_result(response(request, 200))
            invite, pending = self._invites[request.call_id]
            _resolve(pending, response(invite, 487))
        else:
            future.set_result(response(request, 200))
        return future

    def send_ack(self, request: Request, dest: Address, transport: str = "UDP") -> None:
        self.acks.append(request)

    async def _answer(
        self, invite: Request, future: asyncio.Future[Response], steps: tuple[Step, ...]
    ) -> None:
        for step in steps:
            if future.done():
                return
            if isinstance(step, float):
                await asyncio.sleep(step)
                continue
            status, body = step if isinstance(step, tuple) else (step, b"")
            answer = response(invite, status, body)
            if status < 200:
                self.outbound.on_event(ResponseReceived(answer, None))  # type: ignore[arg-type]
            else:
                _resolve(future, answer)


def _resolve(future: asyncio.Future[Response], answer: Response) -> None:
    if not future.done():
        future.set_result(answer)


def response(request: Request, status: int, body: bytes = b"") -> Response:
    headers = Headers(
        [
            ("Via", request.headers.get("Via") or "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx"),
            ("From", request.headers.get("From") or ""),
            ("To", f"{request.headers.get('To')};tag=callee"),
            ("Call-ID", request.call_id),
            ("CSeq", request.headers.get("CSeq") or ""),
            ("Contact", "<sip:callee@127.0.0.1:5070>"),
        ]
    )
    if body:
        headers.add("Content-Type", "application/sdp")
    return Response(status, "Fake", headers, body)


class Phone(asyncio.DatagramProtocol):
    """A far end's RTP port on the loop's in-memory network: keeps what it hears, sends."""

    def __init__(self) -> None:
        self.heard: list[RtpPacket] = []
        self.transport: asyncio.DatagramTransport | None = None
        self._sequence = 0

    @classmethod
    async def at(cls, port: int, host: str = "127.0.0.1") -> Phone:
        loop = asyncio.get_running_loop()
        _, phone = await loop.create_datagram_endpoint(cls, local_addr=(host, port))
        return phone

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.heard.append(RtpPacket.parse(data))

    def send_audio(self, payload: bytes, to: Address) -> None:
        """One 20 ms PCMU packet."""
        assert self.transport is not None
        self._sequence += 1
        packet = RtpPacket(0, self._sequence, self._sequence * 160, 0xCA11EE, payload)
        self.transport.sendto(bytes(packet), to)

    def send_digit(self, digit: str, to: Address) -> None:
        """A key as one RFC 4733 end packet (telephone-event 101)."""
        assert self.transport is not None
        self._sequence += 1
        event = DtmfEvent(digit_to_event(digit), end=True, duration=800)
        packet = RtpPacket(101, self._sequence, self._sequence * 160, 0xCA11EE, bytes(event))
        self.transport.sendto(bytes(packet), to)

    def digits(self) -> list[str]:
        """The keys heard as RFC 4733 events, once each."""
        keys = {
            p.timestamp: DtmfEvent.parse(p.payload).event
            for p in self.heard
            if p.payload_type == 101
        }
        return [DIGITS[event] for _, event in sorted(keys.items())]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
