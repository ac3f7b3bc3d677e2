"""One RTP/RTCP port pair per call leg: the thin asyncio shell around ``callplane.rtp``.

Receive: datagram -> source check (symmetric RTP) -> ``RtpPacket.parse`` ->
``InboundStream`` bookkeeping -> the audio payload as it came (``on_payload``), or
decoded PCM, or an RFC 4733 digit to the callback (or queue). The common packet
(audio from the latched source, no CSRC, extension or padding, nobody asking for
the whole packet) takes a shorter path: header fields unpacked in place, no
``RtpPacket`` built. Send: ``play`` registers the session with the process-wide
``MediaClock``; each 20 ms tick encodes and sends the next frame of every
playing session (a µ-law ``bytes`` frame goes to a PCMU leg as it is).

Pacing: one shared clock instead of one task per stream. Ticks fall on
absolute deadlines ``t0 + n * 20 ms`` (``loop.call_at``), so there is no drift;
a tick that comes late sends the frames it owes (at most ``MAX_CATCHUP``, then
the timestamps jump instead of bursting). One timer wake-up serves every
stream: in ``bench/rtp_streams.py`` it cost the same or 10-25 % less CPU than a
task per stream (about 7 us per packet, most of it the G.711 table lookup and
the ``sendto`` system call), and keeps one place that owns the timing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import weakref
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from callplane.net.ports import PortAllocator
from callplane.rtp.dtmf import DtmfReceiver, DtmfSender
from callplane.rtp.errors import RtpError
from callplane.rtp.g711 import DECODERS, ENCODERS, PCMU, Frame, Pcm, ulaw_decode
from callplane.rtp.packet import HEADER_SIZE, RtpPacket
from callplane.rtp.rtcp import (
    Bye,
    CompoundPacket,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    ntp_middle32,
    ntp_now,
)
from callplane.rtp.stream import InboundStream, OutboundStream, Splice

logger = logging.getLogger("callplane.rtp")

PERIOD: Final = 0.020
MAX_CATCHUP: Final = 5
RTCP_INTERVAL: Final = 5.0
AUDIO_QUEUE_FRAMES: Final = 50
PREFETCH_FRAMES: Final = 5
BIND_ATTEMPTS: Final = 10
DTMF_GAP_MS: Final = 60
EARLY_TOLERANCE: Final = 0.05
MAX_INBOUND_SSRCS: Final = 4

Address = tuple[str, int]
AudioCallback = Callable[[Pcm], None]
PayloadCallback = Callable[[bytes, int], None]
DtmfCallback = Callable[[str], None]
PacketCallback = Callable[[RtpPacket], None]
Frames = Iterable[Frame] | AsyncIterable[Frame]
_FIELDS = struct.Struct("!BHII")  # after the first octet: M/PT, sequence, timestamp, SSRC


class MediaClock:
    """A 20 ms metronome shared by every playing session of one event loop."""

    _clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float = PERIOD) -> None:
        self.loop = loop
        self.period = period
        self._players: dict[_Playout, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self._tick_index = 0

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        loop = loop or asyncio.get_running_loop()
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    @property
    def active(self) -> int:
        return len(self._players)

    def add(self, player: _Playout) -> None:
        self._players[player] = None
        if self._timer is None:
            self._t0 = self.loop.time()
            self._tick_index = 0
            self._schedule()

    def remove(self, player: _Playout) -> None:
        self._players.pop(player, None)
        if not self._players and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        deadline = self._t0 + (self._tick_index + 1) * self.period
        self._timer = self.loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        index = int((now - self._t0) / self.period + EARLY_TOLERANCE)
        due = index - self._tick_index
        if due <= 0:  # woke early (timer granularity): wait for the real deadline
            self._schedule()
            return
        self._tick_index = index
        for player in tuple(self._players):
            try:
                player.tick(due, now)
            except Exception as exc:  # a bad frame source must not stop the clock
                player.finish(exc)
        if self._players:
            self._schedule()
        else:
            self._timer = None


class _Playout:
    """One ``play`` call: pulls frames and hands them to the session on each tick."""

    def __init__(self, session: RtpSession, frames: Frames) -> None:
        self.session = session
        self.done: asyncio.Future[None] = session.loop.create_future()
        self.marker = True
        self._sync: Iterator[Frame] | None = None
        self._buffer: deque[Frame] = deque()
        self._feeder: asyncio.Task[None] | None = None
        self._space = asyncio.Event()
        self._exhausted = False
        if isinstance(frames, AsyncIterable):
            self._feeder = session.loop.create_task(self._feed(aiter(frames)))
        else:
            self._sync = iter(frames)

    def tick(self, due: int, now: float) -> None:
        if self.session.dtmf_active:
            self.marker = True
            return
        if due == 1 and self._sync is not None and not self.marker:  # the usual tick
            frame = next(self._sync, None)
            if frame is None:
                self.finish()
            else:
                self.session.send_frame(frame)
            return
        for _ in range(min(due, MAX_CATCHUP)):
            frame = self._next_frame()
            if frame is None:
                return
            self._send(frame, now)
        if due > MAX_CATCHUP:
            self.session.skip_frames(due - MAX_CATCHUP)

    def _send(self, frame: Frame, now: float) -> None:
        if self.marker:
            self.session.align_timestamp(now)
        self.session.send_frame(frame, marker=self.marker)
        self.marker = False

    def _next_frame(self) -> Frame | None:
        if self._sync is not None:
            frame = next(self._sync, None)
            if frame is None:
                self.finish()
            return frame
        if self._buffer:
            self._space.set()
            return self._buffer.popleft()
        if self._exhausted:
            self.finish()
        else:
            self.session.skip_frames(1)
            self.marker = True
        return None

    async def _feed(self, frames: AsyncIterator[Frame]) -> None:
        try:
            async for frame in frames:
                self._buffer.append(frame)
                while len(self._buffer) >= PREFETCH_FRAMES:
                    self._space.clear()
                    await self._space.wait()
        except Exception as exc:
            self.finish(exc)
        finally:
            self._exhausted = True

    def finish(self, error: Exception | None = None) -> None:
        self.session.clock.remove(self)
        if self._feeder is not None and not self._feeder.done():
            self._feeder.cancel()
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


@dataclass(frozen=True, slots=True)
class RtpSessionStats:
    local_port: int
    remote: Address | None
    packets_sent: int
    octets_sent: int
    packets_received: int
    packets_lost: int
    packets_late: int  # arrived after a newer packet (reordered)
    jitter_ms: float
    ignored_packets: int
    malformed_packets: int
    unknown_payload_packets: int
    dtmf_received: int
    rtcp_sent: int
    rtcp_received: int
    remote_fraction_lost: float | None
    remote_jitter_ms: float | None
    round_trip_ms: float | None
    remote_bye: bool


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, Any], None]) -> None:
        self.datagram_received = handler  # type: ignore[method-assign,assignment]  # one call less a packet

    def error_received(self, exc: Exception) -> None:
        logger.debug("RTP socket error: %s", exc)


class RtpSession:
    """The media of one call leg: an RTP/RTCP socket pair and its streams.

    Create with ``await RtpSession.open(ports)``; then ``set_remote`` from the
    SDP answer/offer. Audio arrives at ``on_payload`` as the payload and its type,
    undecoded (``CallMedia``: a µ-law stream takes PCMU as it is), else at
    ``on_audio`` (or, once read, in the ``audio`` queue) as int16 frames; whole
    packets at ``on_packet`` (a pass-through bridge); digits at ``on_dtmf`` (else
    ``dtmf``).
    """

    def __init__(
        self,
        ports: PortAllocator,
        port: int,
        *,
        on_audio: AudioCallback | None = None,
        on_dtmf: DtmfCallback | None = None,
        cname: str | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.clock = MediaClock.for_loop(self.loop)
        self.ports = ports
        self.local_port = port
        self.on_audio = on_audio
        self.on_dtmf = on_dtmf
        self.on_packet: PacketCallback | None = None
        self.on_payload: PayloadCallback | None = None
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.cname = cname or f"callplane-{random.getrandbits(48):012x}@callplane"
        self.samples_per_frame = 160
        self.stream = OutboundStream(0)
        self.inbound: InboundStream | None = None
        self._inbound: dict[int, InboundStream] = {}
        self.dtmf_active = False
        self.on_hold = False  # the peer wants no media from us (RFC 3264 §8.4)
        self._audio: asyncio.Queue[Pcm] | None = None
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._remote_ip: str | None = None
        self._remote_rtp: Address | None = None
        self._remote_rtcp: Address | None = None
        self._latched_rtp = False
        self._latched_rtcp = False
        self._encode: Callable[[Pcm], bytes] | None = None
        self._decode: Callable[[bytes], Pcm] | None = None
        self._dtmf_rx: DtmfReceiver | None = None
        self._dtmf_tx: DtmfSender | None = None
        self._dtmf_lock = asyncio.Lock()
        self._player: _Playout | None = None
        self._ts_wall: float | None = None
        self._sent_since_report = False
        self._rtcp_timer: asyncio.TimerHandle | None = None
        self._counters = dict.fromkeys(
            ("ignored", "malformed", "unknown_payload_type", "dtmf", "rtcp_sent", "rtcp_received"),
            0,
        )
        self._remote_block: ReportBlock | None = None
        self._rtt: float | None = None
        self._remote_bye = False
        self._closed = False

    # -- life cycle -------------------------------------------------------

    @classmethod
    async def open(
        cls,
        ports: PortAllocator,
        host: str = "0.0.0.0",
        *,
        on_audio: AudioCallback | None = None,
        on_dtmf: DtmfCallback | None = None,
        cname: str | None = None,
    ) -> RtpSession:
        """Allocate a port pair and bind RTP and RTCP on ``host``."""
        for _ in range(BIND_ATTEMPTS):
            port = ports.allocate()
            session = cls(ports, port, on_audio=on_audio, on_dtmf=on_dtmf, cname=cname)
            try:
                await session._bind(host)
            except OSError as exc:
                logger.debug("RTP port %d busy: %s", port, exc)
                session._close_transports()
                ports.release(port)
                continue
            return session
        raise RtpError(f"could not bind an RTP port pair in {BIND_ATTEMPTS} attempts")

    async def _bind(self, host: str) -> None:
        self._rtp = await self._endpoint(host, self.local_port, self._on_rtp)
        self._rtcp = await self._endpoint(host, self.local_port + 1, self._on_rtcp)

    async def _endpoint(
        self, host: str, port: int, handler: Callable[[bytes, Any], None]
    ) -> asyncio.DatagramTransport:
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: _Protocol(handler), local_addr=(host, port)
        )
        return transport

    def set_remote(
        self,
        ip: str,
        port: int,
        payload_type: int = 0,
        telephone_event_pt: int | None = 101,
        *,
        rtcp_port: int | None = None,
        clock_rate: int = 8000,
    ) -> None:
        """Where to send, from the SDP; packets are then accepted from ``ip`` only."""
        if payload_type not in ENCODERS:
            raise RtpError(f"unsupported audio payload type {payload_type}")
        self._latched_rtp = self._latched_rtcp = False
        self._remote_ip = ip
        self._remote_rtp = (ip, port)
        self._remote_rtcp = (ip, rtcp_port if rtcp_port is not None else port + 1)
        self.stream.payload_type = payload_type
        self.stream.clock_rate = clock_rate
        self.samples_per_frame = round(clock_rate * PERIOD)
        self._encode, self._decode = ENCODERS[payload_type], DECODERS[payload_type]
        self._dtmf_rx = None if telephone_event_pt is None else DtmfReceiver(telephone_event_pt)
        self._dtmf_tx = (
            None if telephone_event_pt is None else DtmfSender(self.stream, telephone_event_pt)
        )
        self._schedule_rtcp()

    async def close(self) -> None:
        """Stop playing, say BYE, close both sockets and give the ports back."""
        if self._closed:
            return
        self._closed = True
        if self._player is not None:
            self._player.finish(RtpError("RTP session closed during playout"))
        if self._rtcp_timer is not None:
            self._rtcp_timer.cancel()
        if self._remote_rtcp is not None:
            self._send_rtcp(bye=True)
        self._close_transports()
        self.ports.release(self.local_port)

    def _close_transports(self) -> None:
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()

    async def __aenter__(self) -> RtpSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- sending ----------------------------------------------------------

    async def play(self, frames: Frames) -> None:
        """Send one frame per 20 ms tick until ``frames`` runs out (or cancellation)."""
        self._require_remote()
        if self._player is not None:
            raise RtpError("this session is already playing")
        player = self._player = _Playout(self, frames)
        self.clock.add(player)
        try:
            await player.done
        finally:
            player.finish()
            self._player = None

    def send_frame(self, frame: Frame, *, marker: bool = False) -> None:
        """Encode and send one frame now: the primitive the clock calls per tick.
        A µ-law ``bytes`` frame goes to a PCMU leg as it is (decoded for any other)."""
        assert self._encode is not None and self._rtp is not None
        pcm: Pcm | None = None
        payload = b""
        if isinstance(frame, bytes):
            if self.stream.payload_type == PCMU:
                payload = frame
            else:
                pcm = ulaw_decode(frame)
        elif frame.dtype != np.int16:
            raise RtpError(f"audio frames must be int16, not {frame.dtype}")
        else:
            pcm = frame
        if self.on_hold:  # time runs on, so the stream resumes where the clock is
            self.skip_frames(1)
            return
        if pcm is not None:
            payload = self._encode(pcm)
        data = self.stream.packet_bytes(payload, len(frame), marker)
        self._rtp.sendto(data, self._remote_rtp)
        self._sent_since_report = True
        if self._ts_wall is not None:
            self._ts_wall += len(frame) / self.stream.clock_rate

    def relay(self, packet: RtpPacket, splice: Splice) -> bool:
        """Send ``packet``, heard on another leg, now as ours; False if this leg takes none now.

        Nothing is relayed while the leg is on hold, sends a digit or plays audio
        of its own (an API Play over a bridge); the splice then re-anchors.
        """
        busy = self._player is not None or self.dtmf_active
        if self._closed or self._remote_rtp is None or self.on_hold or busy:
            splice.interrupt()
            return False
        now = self.loop.time()
        if not splice.continues(packet):
            self.align_timestamp(now)
        samples = len(packet.payload)  # G.711: one byte per sample
        assert self._rtp is not None
        self._rtp.sendto(splice.forward(packet, samples), self._remote_rtp)
        self._sent_since_report = True
        self._ts_wall = now + samples / self.stream.clock_rate
        return True

    def encode(self, frame: Pcm) -> bytes:
        """``frame`` in this leg's negotiated codec."""
        assert self._encode is not None
        return self._encode(frame)

    def decode(self, payload: bytes) -> Pcm:
        """An audio payload of this leg's negotiated codec as int16 samples."""
        assert self._decode is not None
        return self._decode(payload)

    def skip_frames(self, count: int) -> None:
        """Let ``count`` frame times pass without sending (underrun, late tick)."""
        self.stream.skip(count * self.samples_per_frame)
        if self._ts_wall is not None:
            self._ts_wall += count * PERIOD

    def align_timestamp(self, now: float) -> None:
        """At a talkspurt start, move the timestamp on by the silence since the last packet."""
        if self._ts_wall is not None and now > self._ts_wall:
            self.stream.skip(round((now - self._ts_wall) * self.stream.clock_rate))
        self._ts_wall = now

    async def send_dtmf(
        self, digits: str, duration_ms: int = 100, *, gap_ms: int = DTMF_GAP_MS
    ) -> None:
        """Send ``digits`` as RFC 4733 events; audio playout pauses meanwhile."""
        self._require_remote()
        if self._dtmf_tx is None:
            raise RtpError("the remote side negotiated no telephone-event payload type")
        async with self._dtmf_lock:
            self.dtmf_active = True
            try:
                for digit in digits:
                    await self._send_digit(self._dtmf_tx, digit, duration_ms)
                    await asyncio.sleep(gap_ms / 1000)
            finally:
                self.dtmf_active = False

    async def _send_digit(self, sender: DtmfSender, digit: str, duration_ms: int) -> None:
        start = self.loop.time()
        self.align_timestamp(start)
        assert self._rtp is not None
        for offset, packet in sender.packets(digit, duration_ms):
            delay = start + offset - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._rtp.sendto(bytes(packet), self._remote_rtp)
        self._sent_since_report = True
        self._ts_wall = start + duration_ms / 1000

    def _require_remote(self) -> None:
        if self._closed:
            raise RtpError("RTP session is closed")
        if self._remote_rtp is None:
            raise RtpError("set_remote() has not been called")

    # -- receiving --------------------------------------------------------

    @property
    def audio(self) -> asyncio.Queue[Pcm]:
        """Decoded inbound frames; decoding starts the first time this is read."""
        if self._audio is None:
            self._audio = asyncio.Queue(AUDIO_QUEUE_FRAMES)
        return self._audio

    def _accept(self, addr: Any, rtcp: bool) -> bool:
        if self._remote_ip is None or addr[0] != self._remote_ip:
            return False
        source = (addr[0], addr[1])
        if rtcp:
            if not self._latched_rtcp:
                self._remote_rtcp, self._latched_rtcp = source, True
            return source == self._remote_rtcp
        if not self._latched_rtp:
            self._remote_rtp, self._latched_rtp = source, True
        return source == self._remote_rtp

    def _on_rtp(self, data: bytes, addr: Any) -> None:
        if (addr != self._remote_rtp or not self._latched_rtp) and not self._accept(addr, False):
            self._counters["ignored"] += 1
            return
        if data[:1] == b"\x80" and self.on_packet is None and len(data) >= HEADER_SIZE:
            # the common packet: version 2, no padding, extension or CSRC
            second, sequence, timestamp, ssrc = _FIELDS.unpack_from(data, 1)
            payload_type = second & 0x7F
            dtmf = self._dtmf_rx
            if payload_type == self.stream.payload_type and (
                dtmf is None or payload_type != dtmf.payload_type
            ):
                stream = self._inbound.get(ssrc) or self._new_inbound(ssrc)
                stream.update_fields(sequence, timestamp, self.loop.time(), jitter=True)
                self.inbound = stream
                self._deliver_audio(data[HEADER_SIZE:])
                return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self._counters["malformed"] += 1
            return
        if self._dtmf_rx is not None and packet.payload_type == self._dtmf_rx.payload_type:
            self._track(packet, jitter=False)
            self._on_event_packet(self._dtmf_rx, packet)
        elif packet.payload_type == self.stream.payload_type:
            self._track(packet, jitter=True)
            if self.on_packet is not None:
                self.on_packet(packet)
            self._deliver_audio(packet.payload)
        else:
            self._counters["unknown_payload_type"] += 1

    def _track(self, packet: RtpPacket, jitter: bool) -> None:
        """Per-SSRC bookkeeping; ``inbound`` follows the SSRC that carries audio."""
        stream = self._inbound.get(packet.ssrc) or self._new_inbound(packet.ssrc)
        stream.update(packet, self.loop.time(), jitter=jitter)
        if jitter or self.inbound is None:
            self.inbound = stream

    def _new_inbound(self, ssrc: int) -> InboundStream:
        if len(self._inbound) >= MAX_INBOUND_SSRCS:
            self._inbound.clear()
        stream = self._inbound[ssrc] = InboundStream(ssrc, self.stream.clock_rate)
        return stream

    def _on_event_packet(self, receiver: DtmfReceiver, packet: RtpPacket) -> None:
        try:
            digit = receiver.feed(packet)
        except RtpError:
            self._counters["malformed"] += 1
            return
        if digit is None:
            return
        self._counters["dtmf"] += 1
        if self.on_dtmf is not None:
            self.on_dtmf(digit)
        else:
            self.dtmf.put_nowait(digit)

    def _deliver_audio(self, payload: bytes) -> None:
        if self.on_payload is not None:
            self.on_payload(payload, self.stream.payload_type)
            return
        if self.on_audio is None and self._audio is None:
            return
        assert self._decode is not None
        pcm = self._decode(payload)
        if self.on_audio is not None:
            self.on_audio(pcm)
            return
        assert self._audio is not None
        if self._audio.full():
            self._audio.get_nowait()
        self._audio.put_nowait(pcm)

    # -- RTCP -------------------------------------------------------------

    def _schedule_rtcp(self) -> None:
        if self._rtcp_timer is None and not self._closed:
            delay = RTCP_INTERVAL * random.uniform(0.5, 1.5)
            self._rtcp_timer = self.loop.call_later(delay, self._rtcp_due)

    def _rtcp_due(self) -> None:
        self._rtcp_timer = None
        self._send_rtcp()
        self._schedule_rtcp()

    def _send_rtcp(self, bye: bool = False) -> None:
        if self._rtcp is None or self._remote_rtcp is None:
            return
        packets: list[RtcpPacket] = [
            self._report(),
            SourceDescription.cname(self.stream.ssrc, self.cname),
        ]
        if bye:
            packets.append(Bye((self.stream.ssrc,)))
        self._rtcp.sendto(bytes(CompoundPacket(tuple(packets))), self._remote_rtcp)
        self._counters["rtcp_sent"] += 1

    def _report(self) -> SenderReport | ReceiverReport:
        now = self.loop.time()
        blocks: tuple[ReportBlock, ...] = ()
        if self.inbound is not None and self.inbound.received:
            blocks = (self.inbound.report_block(now),)
        if not self._sent_since_report:
            return ReceiverReport(self.stream.ssrc, blocks)
        self._sent_since_report = False
        return SenderReport(
            self.stream.ssrc,
            ntp_now(),
            self._rtp_timestamp_at(now),
            self.stream.packet_count,
            self.stream.octet_count,
            blocks,
        )

    def _rtp_timestamp_at(self, now: float) -> int:
        """The RTP time matching wall time ``now`` (the SR pairs it with NTP, 6.4.1)."""
        ahead = 0.0 if self._ts_wall is None else self._ts_wall - now
        return (self.stream.timestamp - round(ahead * self.stream.clock_rate)) % (1 << 32)

    def _on_rtcp(self, data: bytes, addr: Any) -> None:
        if not self._accept(addr, rtcp=True):
            self._counters["ignored"] += 1
            return
        try:
            compound = CompoundPacket.parse(data)
        except RtpError:
            self._counters["malformed"] += 1
            return
        self._counters["rtcp_received"] += 1
        for packet in compound.packets:
            self._handle_rtcp(packet)

    def _handle_rtcp(self, packet: RtcpPacket) -> None:
        inbound = self._inbound.get(packet.ssrc) if isinstance(packet, SenderReport) else None
        if isinstance(packet, SenderReport) and inbound is not None:
            inbound.record_sender_report(packet.ntp_timestamp, self.loop.time())
        if isinstance(packet, SenderReport | ReceiverReport):
            for block in packet.reports:
                if block.ssrc == self.stream.ssrc:
                    self._remote_report(block)
        elif isinstance(packet, Bye):
            self._remote_bye = True

    def _remote_report(self, block: ReportBlock) -> None:
        """Keep the peer's view of our stream; RTT = now - LSR - DLSR (RFC 3550 6.4.1)."""
        self._remote_block = block
        if block.lsr:
            rtt = ((ntp_middle32(ntp_now()) - block.lsr - block.dlsr) & 0xFFFFFFFF) / 65536
            self._rtt = rtt if rtt < 60 else None

    # -- statistics -------------------------------------------------------

    def stats(self) -> RtpSessionStats:
        inbound = self.inbound
        block = self._remote_block
        rate = self.stream.clock_rate
        return RtpSessionStats(
            local_port=self.local_port,
            remote=self._remote_rtp,
            packets_sent=self.stream.packet_count,
            octets_sent=self.stream.octet_count,
            packets_received=inbound.received if inbound else 0,
            packets_lost=max(0, inbound.lost) if inbound else 0,
            packets_late=inbound.late if inbound else 0,
            jitter_ms=inbound.jitter_seconds * 1000 if inbound else 0.0,
            ignored_packets=self._counters["ignored"],
            malformed_packets=self._counters["malformed"],
            unknown_payload_packets=self._counters["unknown_payload_type"],
            dtmf_received=self._counters["dtmf"],
            rtcp_sent=self._counters["rtcp_sent"],
            rtcp_received=self._counters["rtcp_received"],
            remote_fraction_lost=block.fraction_lost / 256 if block else None,
            remote_jitter_ms=block.jitter * 1000 / rate if block else None,
            round_trip_ms=self._rtt * 1000 if self._rtt is not None else None,
            remote_bye=self._remote_bye,
        )


def silence(frames: int, samples: int = 160) -> Iterator[Pcm]:
    """``frames`` frames of digital silence, e.g. to keep a NAT binding open."""
    zero = np.zeros(samples, dtype=np.int16)
    for _ in range(frames):
        yield zero


__all__ = [
    "MediaClock",
    "PortAllocator",
    "RtpSession",
    "RtpSessionStats",
    "silence",
]
