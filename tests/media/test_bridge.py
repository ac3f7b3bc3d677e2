"""The Dial bridge: the frame queue in memory, then four real RTP sessions on loopback.

Phone A <-PCMU-> leg A [Bridge] leg B <-PCMA or PCMU-> phone B; the phones stand
for the caller and the callee, the legs are Callplane's two anchored sessions.
With PCMA the bridge transcodes, with PCMU it passes packets through.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from callplane.media.bridge import (
    Bridge,
    BridgeError,
    BridgeState,
    Side,
)
from callplane.media.call_media import CallMedia
from callplane.media.frame_queue import FrameQueue
from callplane.media.pcm import FRAME_SAMPLES, Pcm, frames, tone
from callplane.net.ports import PortAllocator
from callplane.net.rtp_session import RtpSession
from callplane.rtp.g711 import ulaw_encode
from callplane.rtp.packet import RtpPacket
from tests.media.helpers import dominant_hz

HOST = "127.0.0.1"
PCMU, PCMA, EVENTS = 0, 8, 101


def tone_frames(hz: float, seconds: float) -> list[Pcm]:
    return list(frames(tone(hz, seconds)))


def frame_of(value: int, size: int = FRAME_SAMPLES) -> Pcm:
    return np.full(size, value, dtype=np.int16)


# -- in memory --------------------------------------------------------------------------


def test_queue_relays_in_order_and_fills_underruns_with_silence() -> None:
    queue = FrameQueue(depth=2)
    queue.push(frame_of(1))
    assert queue.pull()[0] == 1
    assert not queue.pull().any()
    assert (queue.relayed, queue.underruns, queue.dropped_samples) == (1, 1, 0)


def test_queue_overflow_drops_the_oldest() -> None:
    queue = FrameQueue(depth=2)
    for value in (1, 2, 3):
        queue.push(frame_of(value))
    assert [queue.pull()[0] for _ in range(2)] == [2, 3]
    assert queue.dropped_samples == FRAME_SAMPLES


def test_queue_reframes_30_ms_packets_into_20_ms_frames() -> None:
    queue = FrameQueue(depth=2)
    queue.push(np.arange(240, dtype=np.int16))
    first, second = queue.pull(), queue.pull()
    assert np.array_equal(first, np.arange(160))
    assert np.array_equal(second[:80], np.arange(160, 240)) and not second[80:].any()
    assert (queue.relayed, queue.underruns, queue.dropped_samples) == (1, 1, 0)


def test_queue_rejects_zero_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        FrameQueue(depth=0)


# -- four sessions on loopback ------------------------------------------------------------


@dataclass
class Phone:
    session: RtpSession
    heard: list[Pcm] = field(default_factory=list)
    packets: list[RtpPacket] = field(default_factory=list)

    def audio_packets(self) -> list[RtpPacket]:
        return [p for p in self.packets if p.payload_type != EVENTS]

    def heard_pcm(self) -> Pcm:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)

    def loud_frames(self) -> int:
        return sum(1 for frame in self.heard if np.abs(frame).max() > 1000)


@dataclass
class Rig:
    phone_a: Phone
    phone_b: Phone
    leg_a: RtpSession
    leg_b: RtpSession


def capture_packets(phone: Phone) -> None:
    """Record every RTP packet the phone's socket receives, then let the session handle it."""
    transport = phone.session._rtp
    assert transport is not None
    protocol = transport.get_protocol()
    handle = protocol.datagram_received

    def tap(data: bytes, addr: object) -> None:
        phone.packets.append(RtpPacket.parse(data))
        handle(data, addr)

    protocol.datagram_received = tap  # type: ignore[method-assign]


async def connect(ports: PortAllocator, payload_type: int) -> tuple[Phone, RtpSession]:
    heard: list[Pcm] = []
    phone = Phone(await RtpSession.open(ports, HOST, on_audio=heard.append), heard)
    leg = await RtpSession.open(ports, HOST)
    phone.session.set_remote(HOST, leg.local_port, payload_type, EVENTS)
    leg.set_remote(HOST, phone.session.local_port, payload_type, EVENTS)
    capture_packets(phone)
    return phone, leg


async def make_rig(callee_codec: int) -> AsyncIterator[Rig]:
    ports = PortAllocator(43000, 43999)
    phone_a, leg_a = await connect(ports, PCMU)
    phone_b, leg_b = await connect(ports, callee_codec)
    yield Rig(phone_a, phone_b, leg_a, leg_b)
    for session in (phone_a.session, leg_a, phone_b.session, leg_b):
        await session.close()
    assert ports.in_use == 0


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """Transcoding: PCMU on the caller's side, PCMA on the callee's."""
    async for made in make_rig(PCMA):
        yield made


@pytest.fixture
async def same_rig() -> AsyncIterator[Rig]:
    """Pass-through: PCMU on both sides."""
    async for made in make_rig(PCMU):
        yield made


@pytest.fixture(params=["transcoding", "pass-through"])
async def any_rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for made in make_rig(PCMA if request.param == "transcoding" else PCMU):
        yield made


async def talk(rig: Rig, seconds: float) -> None:
    await asyncio.gather(
        rig.phone_a.session.play(tone_frames(440, seconds)),
        rig.phone_b.session.play(tone_frames(1000, seconds)),
    )
    await asyncio.sleep(0.1)


def drain(queue: asyncio.Queue[str]) -> str:
    digits = ""
    while not queue.empty():
        digits += queue.get_nowait()
    return digits


def assert_continuous(packets: list[RtpPacket]) -> None:
    assert len({p.ssrc for p in packets}) == 1
    for before, after in itertools.pairwise(packets):
        assert (after.sequence - before.sequence) % (1 << 16) == 1
        assert (after.timestamp - before.timestamp) % (1 << 32) == FRAME_SAMPLES
        assert not after.marker


async def test_each_phone_hears_the_other_through_the_bridge(any_rig: Rig) -> None:
    rig = any_rig
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        await talk(rig, 2.0)
    assert dominant_hz(rig.phone_a.heard_pcm()) == pytest.approx(1000, abs=10)
    assert dominant_hz(rig.phone_b.heard_pcm()) == pytest.approx(440, abs=10)
    assert min(rig.phone_a.loud_frames(), rig.phone_b.loud_frames()) >= 95
    callee_codec = rig.leg_b.stream.payload_type
    assert {p.payload_type for p in rig.phone_a.packets} == {PCMU}
    assert {p.payload_type for p in rig.phone_b.packets} == {callee_codec}
    stats = bridge.stats()
    for direction in (stats.a_to_b, stats.b_to_a):
        assert direction.passthrough is (callee_codec == PCMU)
        assert direction.relayed >= 95
        assert direction.packets_received >= 95
        assert direction.dropped <= 2


async def test_transcoding_streams_stay_continuous_while_the_other_side_is_silent(
    rig: Rig,
) -> None:
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        await rig.phone_a.session.play(tone_frames(440, 0.4))
        await asyncio.sleep(0.4)
        await rig.phone_a.session.play(tone_frames(440, 0.4))
        await asyncio.sleep(0.1)
    to_b = rig.phone_b.audio_packets()
    assert len(to_b) >= 60
    assert_continuous(to_b)
    assert_continuous(rig.phone_a.audio_packets())
    assert bridge.stats().a_to_b.underruns >= 15
    assert rig.phone_b.loud_frames() >= 35


async def test_digits_are_relayed_once_each_way(any_rig: Rig) -> None:
    rig = any_rig
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        await rig.phone_a.session.send_dtmf("12#*9")
        await rig.phone_b.session.send_dtmf("0")
        await asyncio.sleep(0.5)
    assert drain(rig.phone_b.session.dtmf) == "12#*9"
    assert drain(rig.phone_a.session.dtmf) == "0"
    stats = bridge.stats()
    assert (stats.a_to_b.digits_relayed, stats.b_to_a.digits_relayed) == (5, 1)


async def test_a_digit_hook_can_consume_digits(any_rig: Rig) -> None:
    rig = any_rig
    seen: list[tuple[Side, str]] = []

    def hang_up_on_star(side: Side, digit: str) -> bool:
        seen.append((side, digit))
        return side is Side.A and digit == "*"

    async with Bridge(rig.leg_a, rig.leg_b, on_digit=hang_up_on_star) as bridge:
        await rig.phone_a.session.send_dtmf("1*2")
        await asyncio.sleep(0.4)
    assert drain(rig.phone_b.session.dtmf) == "12"
    star = 10  # RFC 4733 event code of *
    assert all(p.payload[0] != star for p in rig.phone_b.packets if p.payload_type == EVENTS)
    assert seen == [(Side.A, "1"), (Side.A, "*"), (Side.A, "2")]
    assert bridge.stats().a_to_b.digits_consumed == 1


async def test_nothing_is_relayed_after_stop(any_rig: Rig) -> None:
    rig = any_rig
    bridge = Bridge(rig.leg_a, rig.leg_b)
    bridge.start()
    talking = asyncio.ensure_future(talk(rig, 1.0))
    await asyncio.sleep(0.4)
    await bridge.stop()
    await asyncio.sleep(0.1)
    counts = (len(rig.phone_a.packets), len(rig.phone_b.packets))
    sent = (rig.leg_a.stats().packets_sent, rig.leg_b.stats().packets_sent)
    await rig.phone_a.session.send_dtmf("5")
    await talking
    assert (len(rig.phone_a.packets), len(rig.phone_b.packets)) == counts
    assert (rig.leg_a.stats().packets_sent, rig.leg_b.stats().packets_sent) == sent
    assert rig.leg_a.stats().packets_received > 40
    assert rig.leg_a.on_audio is None and rig.leg_a.on_dtmf is None
    assert rig.leg_a.on_packet is None
    assert drain(rig.leg_a.dtmf) == "5"
    assert bridge.state is BridgeState.STOPPED
    with pytest.raises(BridgeError):
        bridge.start()


@pytest.fixture
async def media_rig(any_rig: Rig) -> AsyncIterator[tuple[Rig, CallMedia, CallMedia]]:
    yield any_rig, CallMedia(any_rig.leg_a), CallMedia(any_rig.leg_b)


async def test_call_media_legs_keep_their_listeners(
    media_rig: tuple[Rig, CallMedia, CallMedia],
) -> None:
    rig, media_a, media_b = media_rig
    heard_on_a: list[Pcm] = []
    heard_on_a_mulaw: list[bytes] = []  # a µ-law stream's inbound track
    sent_to_a: list[Pcm] = []
    media_a.listeners.append(heard_on_a.append)
    media_a.mulaw_listeners.append(heard_on_a_mulaw.append)
    media_a.sent_listeners.append(sent_to_a.append)
    async with Bridge(media_a, media_b):
        await talk(rig, 1.0)
        await rig.phone_a.session.send_dtmf("7")
        await asyncio.sleep(0.3)
    assert dominant_hz(np.concatenate(heard_on_a)) == pytest.approx(440, abs=10)
    assert ulaw_encode(np.concatenate(heard_on_a)) == b"".join(heard_on_a_mulaw)
    assert dominant_hz(np.concatenate(sent_to_a)) == pytest.approx(1000, abs=10)
    assert dominant_hz(rig.phone_b.heard_pcm()) == pytest.approx(440, abs=10)
    assert drain(rig.phone_b.session.dtmf) == "7"
    assert media_a.digits.empty()
    assert media_a.listeners == [heard_on_a.append]
    assert rig.leg_a.on_dtmf == media_a.add_digit
    assert rig.leg_a.on_payload == media_a.heard_payload


async def test_an_api_play_is_mixed_over_the_relayed_audio(
    media_rig: tuple[Rig, CallMedia, CallMedia],
) -> None:
    rig, media_a, media_b = media_rig
    async with Bridge(media_a, media_b):
        talking = asyncio.ensure_future(rig.phone_a.session.play(tone_frames(440, 1.6)))
        await asyncio.sleep(0.4)
        media_b.overlay(iter(tone_frames(1800, 0.8)))  # POST /Call/{uuid}/Play/, mix=true
        await talking
        await asyncio.sleep(0.1)
    during = np.concatenate(rig.phone_b.heard[25:55])
    spectrum = np.abs(np.fft.rfft(during))
    hz = np.fft.rfftfreq(len(during), 1 / 8000)
    strength = {f: spectrum[np.abs(hz - f) < 20].max() for f in (440, 1800)}
    assert strength[1800] > 0.3 * strength[440] and strength[440] > 0.3 * strength[1800]
    assert dominant_hz(np.concatenate(rig.phone_b.heard[-15:])) == pytest.approx(440, abs=10)


# -- pass-through -------------------------------------------------------------------------


def assert_one_stream(packets: list[RtpPacket], talkspurts: list[int]) -> None:
    """One SSRC, no sequence gap; timestamps step 160 except forward at each talkspurt."""
    assert len({p.ssrc for p in packets}) == 1
    assert [i for i, p in enumerate(packets) if p.marker] == talkspurts
    for i, (before, after) in enumerate(itertools.pairwise(packets), start=1):
        assert (after.sequence - before.sequence) % (1 << 16) == 1
        step = (after.timestamp - before.timestamp) % (1 << 32)
        assert step >= FRAME_SAMPLES if i in talkspurts else step == FRAME_SAMPLES


async def test_pass_through_continues_our_own_stream_before_and_after(same_rig: Rig) -> None:
    rig = same_rig
    await rig.leg_b.play(tone_frames(700, 0.2))  # a Speak before the Dial
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        await rig.phone_a.session.play(tone_frames(440, 0.4))
        await asyncio.sleep(0.05)
    await rig.leg_b.play(tone_frames(700, 0.2))  # and one after it
    await asyncio.sleep(0.05)
    assert_one_stream(rig.phone_b.audio_packets(), talkspurts=[0, 10, 30])
    stats = bridge.stats().a_to_b
    assert stats.passthrough and stats.relayed == 20 and stats.dropped == 0


async def test_pass_through_sends_nothing_to_a_held_leg_and_resumes_in_step(
    same_rig: Rig,
) -> None:
    rig = same_rig
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        talking = asyncio.ensure_future(rig.phone_a.session.play(tone_frames(440, 1.2)))
        await asyncio.sleep(0.4)
        rig.leg_b.on_hold = True
        sent_before_hold = rig.leg_b.stats().packets_sent
        await asyncio.sleep(0.4)
        sent_on_hold = rig.leg_b.stats().packets_sent
        rig.leg_b.on_hold = False
        await talking
        await asyncio.sleep(0.05)
    assert sent_on_hold == sent_before_hold
    packets = rig.phone_b.audio_packets()
    resumed = next(i for i, p in enumerate(packets) if i and p.marker)
    assert_one_stream(packets, talkspurts=[0, resumed])
    gap = (packets[resumed].timestamp - packets[resumed - 1].timestamp) % (1 << 32)
    assert gap >= 0.3 * 8000  # the held time passed on the far end's clock too
    assert bridge.stats().a_to_b.dropped >= 15


async def test_pass_through_transcodes_once_a_re_invite_changes_one_codec(
    same_rig: Rig,
) -> None:
    rig = same_rig
    async with Bridge(rig.leg_a, rig.leg_b) as bridge:
        rig.leg_b.set_remote(HOST, rig.phone_b.session.local_port, PCMA, EVENTS)
        rig.phone_b.session.set_remote(HOST, rig.leg_b.local_port, PCMA, EVENTS)
        await rig.phone_a.session.play(tone_frames(440, 1.0))
        await asyncio.sleep(0.05)
    assert {p.payload_type for p in rig.phone_b.audio_packets()} == {PCMA}
    assert dominant_hz(rig.phone_b.heard_pcm()) == pytest.approx(440, abs=10)
    assert bridge.stats().a_to_b.relayed >= 45
