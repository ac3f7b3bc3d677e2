"""µ-law streams on a PCMU leg: the bytes pass through both ways untouched, and whatever
needs PCM (an API Play mixed over the agent, a session recording, a Speak under a fork)
still gets the agent's audio. The call's media is a real ``RtpSession`` talking to a
phone on the loop's in-memory network."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.control.live import overlay
from callplane.markup.verbs import Record, Speak, Stream
from callplane.media.pcm import FRAME_SAMPLES
from callplane.rtp.g711 import ulaw_decode, ulaw_encode
from callplane.verbs import EXECUTORS
from callplane.verbs.base import NEXT
from tests.verbs.fake_sip import FakeSip, Phone
from tests.verbs.fakes import (
    FakeAgentSocket,
    FakeServices,
    RtpLeg,
    new_call,
    pcm_level,
    until,
    wav_samples,
)

AGENT = "wss://agent.test/stream"
PHONE = ("127.0.0.1", 50000)
TWILIO_CONNECT = Stream(
    AGENT,
    protocol="twilio",
    bidirectional=True,
    blocking=True,
    content_type="audio/x-mulaw;rate=8000",
)
# Every byte value, 0x7F among them: a decode and re-encode turns 0x7F (µ-law's "negative
# zero") into 0xFF, so only a true pass-through keeps these frames as they are.
CALLER_FRAME = bytes(range(160))
AGENT_FRAMES = [bytes(range(96, 256)), bytes(range(127, 256)) + bytes(range(31))]


@pytest.fixture
async def phone() -> AsyncIterator[Phone]:
    phone = await Phone.at(PHONE[1])
    yield phone
    phone.close()


@pytest.fixture
def pcmu_call(services: FakeServices) -> Call:
    return new_call(services, RtpLeg(FakeSip(), services.ports, PHONE))


async def start(call: Call, services: FakeServices, verb: Stream) -> tuple[Any, FakeAgentSocket]:
    running = asyncio.ensure_future(EXECUTORS[Stream](call, verb))
    await until(lambda: verb.url in services.streams.sockets)
    agent = services.streams.sockets[verb.url]
    await until(lambda: "start" in agent.events())
    return running, agent


def rtp_port(call: Call) -> tuple[str, int]:
    assert call.leg.media is not None
    return ("127.0.0.1", call.leg.media.session.local_port)


def heard_levels(phone: Phone) -> list[int]:
    return [int(ulaw_decode(packet.payload)[80]) for packet in phone.heard]


def near(level: int, target: int) -> bool:
    return abs(level - target) <= max(target // 20, 8)


def mulaw_payload(level: int, frames: int) -> str:
    return base64.b64encode(ulaw_encode(pcm_level(level, frames))).decode()


async def test_the_callers_pcmu_reaches_the_agent_untouched(
    pcmu_call: Call, services: FakeServices, phone: Phone
) -> None:
    running, agent = await start(pcmu_call, services, TWILIO_CONNECT)
    for _ in range(3):
        phone.send_audio(CALLER_FRAME, rtp_port(pcmu_call))
        await asyncio.sleep(0.02)
    await until(lambda: len(agent.of("media")) == 3)
    payloads = [base64.b64decode(m["media"]["payload"]) for m in agent.of("media")]
    assert payloads == [CALLER_FRAME] * 3
    agent.hang_up()
    assert await running == NEXT


async def test_the_agents_mulaw_reaches_the_caller_untouched(
    pcmu_call: Call, services: FakeServices, phone: Phone
) -> None:
    running, agent = await start(pcmu_call, services, TWILIO_CONNECT)
    for frame in AGENT_FRAMES:
        agent.says({"event": "media", "media": {"payload": base64.b64encode(frame).decode()}})
    agent.says({"event": "mark", "mark": {"name": "sent"}})
    await until(lambda: agent.of("mark"))
    await until(lambda: any(p.payload == AGENT_FRAMES[-1] for p in phone.heard))
    sent = [p.payload for p in phone.heard if p.payload in AGENT_FRAMES]
    assert sent == AGENT_FRAMES
    agent.hang_up()
    assert await running == NEXT


async def test_an_api_play_still_mixes_over_the_agents_mulaw_audio(
    pcmu_call: Call, services: FakeServices, phone: Phone
) -> None:
    running, agent = await start(pcmu_call, services, TWILIO_CONNECT)
    agent.says({"event": "media", "media": {"payload": mulaw_payload(3000, 50)}})
    await until(lambda: sum(near(level, 3000) for level in heard_levels(phone)) >= 2)
    overlay(pcmu_call, pcm_level(500, 5), loop=False, length=None, mix=True)

    await until(lambda: sum(near(level, 3500) for level in heard_levels(phone)) == 5)
    agent.hang_up()
    await running


async def test_a_session_recording_keeps_the_agents_mulaw_audio_and_the_callers(
    pcmu_call: Call, services: FakeServices, phone: Phone
) -> None:
    record = Record(record_session=True, file_format="wav")
    assert await EXECUTORS[Record](pcmu_call, record) == NEXT
    running, agent = await start(pcmu_call, services, TWILIO_CONNECT)
    caller = ulaw_encode(pcm_level(1000, 1))
    for _ in range(10):
        phone.send_audio(caller, rtp_port(pcmu_call))
        await asyncio.sleep(0.02)
    await until(lambda: len(agent.of("media")) == 10)
    agent.says({"event": "media", "media": {"payload": mulaw_payload(3000, 10)}})
    agent.says({"event": "mark", "mark": {"name": "done"}})
    await until(lambda: agent.of("mark"))
    agent.hang_up()
    await running
    await pcmu_call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()

    (recording,) = services.recordings
    kept = wav_samples(recording.path).astype(np.int32)
    assert (np.abs(kept - 3000) < 150).sum() >= 9 * FRAME_SAMPLES  # the agent
    assert (np.abs(kept - 1000) < 50).sum() >= 9 * FRAME_SAMPLES  # the caller


async def test_a_speak_under_a_mulaw_fork_has_the_agent_mixed_under_it(
    pcmu_call: Call, services: FakeServices, phone: Phone
) -> None:
    fork = Stream(AGENT, bidirectional=True, content_type="audio/x-mulaw;rate=8000")
    assert await EXECUTORS[Stream](pcmu_call, fork) == NEXT
    await until(lambda: AGENT in services.streams.sockets)
    agent = services.streams.sockets[AGENT]
    agent.says({"event": "playAudio", "media": {"payload": mulaw_payload(300, 20)}})
    services.tts.sounds["over"] = pcm_level(1000, 5)
    await until(lambda: any(near(level, 300) for level in heard_levels(phone)))
    assert await EXECUTORS[Speak](pcmu_call, Speak("over")) == NEXT

    levels = heard_levels(phone)
    assert sum(near(level, 1300) for level in levels) == 5
    await until(lambda: sum(near(level, 300) for level in heard_levels(phone)) == 15)
    pcmu_call.remote_hangup()
    await until(lambda: agent.closed)
