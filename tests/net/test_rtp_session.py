from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from callplane.net.ports import PortAllocator, PortsExhausted
from callplane.net.rtp_session import MediaClock, RtpSession, silence
from callplane.rtp import g711
from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket
from callplane.rtp.rtcp import SenderReport

HOST = "127.0.0.1"


def test_ports_are_even_pairs_and_reused() -> None:
    ports = PortAllocator(30001, 30007)
    assert [ports.allocate(), ports.allocate(), ports.allocate()] == [30002, 30004, 30006]
    with pytest.raises(PortsExhausted, match="30001-30007"):
        ports.allocate()
    ports.release(30004)
    ports.release(30004)
    assert ports.allocate() == 30004
    assert ports.in_use == 3


def test_port_range_parse() -> None:
    ports = PortAllocator.parse("20000-20010")
    assert (ports.first, ports.last, ports.available) == (20000, 20010, 5)
    for bad in ("abc", "30000-20000", "1-70000"):
        with pytest.raises(RtpError):
            PortAllocator.parse(bad)


@dataclass
class Pair:
    a: RtpSession
    b: RtpSession
    ports: PortAllocator
    frames: list[np.ndarray] = field(default_factory=list)


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    ports = PortAllocator(41000, 41999)
    frames: list[np.ndarray] = []
    a = await RtpSession.open(ports, HOST)
    b = await RtpSession.open(ports, HOST, on_audio=frames.append)
    a.set_remote(HOST, b.local_port, payload_type=0, telephone_event_pt=101)
    b.set_remote(HOST, a.local_port, payload_type=0, telephone_event_pt=101)
    yield Pair(a, b, ports, frames)
    await a.close()
    await b.close()
    assert ports.in_use == 0


def tone(count: int, amplitude: int = 6000) -> list[np.ndarray]:
    t = np.arange(count * 160)
    wave = (np.sin(2 * np.pi * 440 * t / 8000) * amplitude).astype(np.int16)
    return [wave[i * 160 : (i + 1) * 160] for i in range(count)]


async def test_pcm_arrives_decoded(pair: Pair) -> None:
    sent = tone(10)
    await pair.a.play(sent)
    await asyncio.sleep(0.05)
    expected = [g711.ulaw_decode(g711.ulaw_encode(f)) for f in sent]
    assert len(pair.frames) == 10
    for got, want in zip(pair.frames, expected, strict=True):
        assert np.array_equal(got, want)
    stats = pair.b.stats()
    assert stats.packets_lost == 0
    assert pair.a.stats().packets_sent == 10


async def test_async_iterable_and_queue(pair: Pair) -> None:
    async def frames() -> AsyncIterator[np.ndarray]:
        for frame in tone(5):
            await asyncio.sleep(0)
            yield frame

    queue = pair.a.audio
    await pair.b.play(frames())
    await asyncio.sleep(0.05)
    assert queue.qsize() == 5


async def test_pcma(pair: Pair) -> None:
    pair.a.set_remote(HOST, pair.b.local_port, payload_type=8)
    pair.b.set_remote(HOST, pair.a.local_port, payload_type=8)
    sent = tone(3)
    await pair.a.play(sent)
    await asyncio.sleep(0.05)
    assert np.array_equal(pair.frames[0], g711.alaw_decode(g711.alaw_encode(sent[0])))


async def test_dtmf_digits_arrive_once(pair: Pair) -> None:
    await pair.a.send_dtmf("1*9#", duration_ms=60)
    await asyncio.sleep(0.05)
    digits = [pair.b.dtmf.get_nowait() for _ in range(pair.b.dtmf.qsize())]
    assert digits == ["1", "*", "9", "#"]
    assert pair.b.stats().dtmf_received == 4


async def test_dtmf_pauses_audio(pair: Pair) -> None:
    play = asyncio.create_task(pair.a.play(silence(20)))
    await asyncio.sleep(0.1)
    await pair.a.send_dtmf("5", duration_ms=40)
    await play
    await asyncio.sleep(0.05)
    assert pair.b.dtmf.get_nowait() == "5"
    assert len(pair.frames) == 20


async def test_unexpected_source_is_ignored(pair: Pair) -> None:
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    intruder.bind((HOST, 0))
    try:
        await pair.a.play(silence(2))
        await asyncio.sleep(0.05)
        packet = RtpPacket(0, 1, 1, 99, g711.ulaw_encode(np.zeros(160, np.int16)))
        for _ in range(5):
            intruder.sendto(bytes(packet), (HOST, pair.b.local_port))
        await asyncio.sleep(0.05)
    finally:
        intruder.close()
    stats = pair.b.stats()
    assert stats.ignored_packets == 5
    assert len(pair.frames) == 2
    assert stats.remote == (HOST, pair.a.local_port)


async def test_play_can_be_cancelled(pair: Pair) -> None:
    play = asyncio.create_task(pair.a.play(silence(1000)))
    await asyncio.sleep(0.1)
    play.cancel()
    with pytest.raises(asyncio.CancelledError):
        await play
    sent = pair.a.stats().packets_sent
    await asyncio.sleep(0.06)
    assert pair.a.stats().packets_sent == sent
    assert MediaClock.for_loop().active == 0


async def test_close_during_play_raises(pair: Pair) -> None:
    play = asyncio.create_task(pair.a.play(silence(1000)))
    await asyncio.sleep(0.05)
    await pair.a.close()
    with pytest.raises(RtpError, match="closed"):
        await play


async def test_play_requires_remote() -> None:
    ports = PortAllocator(42000, 42010)
    async with await RtpSession.open(ports, HOST) as session:
        with pytest.raises(RtpError, match="set_remote"):
            await session.play(silence(1))
    assert ports.in_use == 0


async def test_rtcp_reports_are_exchanged(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    await pair.a.play(silence(5))
    await asyncio.sleep(0.02)
    pair.a._send_rtcp()
    await asyncio.sleep(0.02)
    pair.b._send_rtcp()
    await asyncio.sleep(0.02)
    a, b = pair.a.stats(), pair.b.stats()
    assert (a.rtcp_sent, b.rtcp_received, b.rtcp_sent, a.rtcp_received) == (1, 1, 1, 1)
    assert a.remote_fraction_lost == 0
    assert a.round_trip_ms is not None and 0 <= a.round_trip_ms < 100


class Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.arrivals: list[tuple[float, RtpPacket]] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.arrivals.append((self.loop.time(), RtpPacket.parse(data)))


@pytest.mark.serial
async def test_pacing_three_seconds(pair: Pair) -> None:
    loop = asyncio.get_running_loop()
    transport, recorder = await loop.create_datagram_endpoint(Recorder, local_addr=(HOST, 0))
    try:
        pair.a.set_remote(HOST, transport.get_extra_info("sockname")[1])
        await pair.a.play(silence(150))
        await asyncio.sleep(0.05)
    finally:
        transport.close()
    arrivals = recorder.arrivals
    assert len(arrivals) == 150
    packets = [p for _, p in arrivals]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert all((q.sequence - p.sequence) % 65536 == 1 for p, q in itertools.pairwise(packets))
    assert all((q.timestamp - p.timestamp) % 2**32 == 160 for p, q in itertools.pairwise(packets))
    t0 = packets[0].timestamp
    offsets = [t - ((p.timestamp - t0) % 2**32) / 8000 for t, p in arrivals]
    assert max(offsets) - min(offsets) < 0.040
    assert arrivals[-1][0] - arrivals[0][0] == pytest.approx(149 * 0.02, abs=0.03)


@pytest.mark.serial
async def test_new_talkspurt_sets_marker_and_skips_timestamp(pair: Pair) -> None:
    loop = asyncio.get_running_loop()
    transport, recorder = await loop.create_datagram_endpoint(Recorder, local_addr=(HOST, 0))
    try:
        pair.a.set_remote(HOST, transport.get_extra_info("sockname")[1])
        await pair.a.play(silence(3))
        await asyncio.sleep(0.2)
        await pair.a.play(silence(3))
        await asyncio.sleep(0.05)
    finally:
        transport.close()
    packets = [p for _, p in recorder.arrivals]
    assert [p.marker for p in packets] == [True, False, False, True, False, False]
    gap = (packets[3].timestamp - packets[2].timestamp) % 2**32
    assert 0.18 * 8000 < gap < 0.30 * 8000


async def test_symmetric_rtp_latches_the_real_source_port(pair: Pair) -> None:
    pair.b.set_remote(HOST, 9, payload_type=0)  # SDP port wrong (e.g. behind a NAT)
    queue = pair.a.audio
    await pair.a.play(silence(2))
    await asyncio.sleep(0.05)
    assert pair.b.stats().remote == (HOST, pair.a.local_port)
    await pair.b.play(silence(2))
    await asyncio.sleep(0.05)
    assert queue.qsize() == 2


async def test_dtmf_from_another_ssrc_keeps_audio_stats(pair: Pair) -> None:
    await pair.a.play(silence(5))
    audio_ssrc = pair.a.stream.ssrc
    pair.a.stream.ssrc = audio_ssrc ^ 1
    await pair.a.send_dtmf("4", duration_ms=40)
    await asyncio.sleep(0.05)
    assert pair.b.dtmf.get_nowait() == "4"
    assert pair.b.inbound is not None
    assert pair.b.inbound.ssrc == audio_ssrc
    assert pair.b.stats().packets_received == 4  # RFC 3550 A.1 probation eats the first


async def test_sender_report_pairs_wall_clock_and_rtp_time(pair: Pair) -> None:
    play = asyncio.create_task(pair.a.play(silence(50)))
    await asyncio.sleep(0.2)
    report = pair.a._report()
    play.cancel()
    with pytest.raises(asyncio.CancelledError):
        await play
    assert isinstance(report, SenderReport)
    drift = (pair.a.stream.timestamp - report.rtp_timestamp) % 2**32
    assert drift <= 2 * 160


async def test_failing_frame_source_stops_only_its_own_playout(pair: Pair) -> None:
    def broken() -> Iterator[np.ndarray]:
        yield np.zeros(160, np.int16)
        raise ValueError("decoder broke")

    other = asyncio.create_task(pair.b.play(silence(10)))
    with pytest.raises(ValueError, match="decoder broke"):
        await pair.a.play(broken())
    with pytest.raises(RtpError, match="int16"):
        await pair.a.play([np.zeros(160, np.float64)])
    await other
    assert pair.b.stats().packets_sent == 10
