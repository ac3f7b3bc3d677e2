"""Stream: the call's audio to a voice agent's WebSocket and the agent's audio back, in memory.

The agent is ``FakeAgentSocket``: it sees every message the call sends (with the
virtual time it arrived) and speaks either protocol's messages back.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
from plivo.utils.signature_v3 import construct_get_url, get_signature_v3
from twilio.request_validator import RequestValidator

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.twilio_params import twilio_ids
from callplane.control.live import overlay
from callplane.markup.verbs import Record, Speak, StopStream, Stream
from callplane.media.pcm import FRAME_SAMPLES
from callplane.rtp.g711 import ulaw_decode, ulaw_encode
from callplane.store.ids import twilio_account_sid, twilio_call_sid
from callplane.verbs import EXECUTORS
from callplane.verbs.base import NEXT, NewDocument, Outcome
from callplane.verbs.stream import KEPT_ENDED, MAX_FORKS, MAX_UNSENT
from callplane.webhooks.ssrf import Reach
from tests.verbs.fakes import (
    AUTH_TOKEN,
    FRAME_SECONDS,
    FakeAgentSocket,
    FakeLeg,
    FakeServices,
    pcm_level,
    until,
    wav_samples,
)

AGENT = "wss://agent.test/stream"
STATUS = "http://app.test/stream-status"
PLIVO_TWO_WAY = Stream(
    AGENT,
    bidirectional=True,
    blocking=True,
    content_type="audio/x-l16;rate=16000",
    status_callback_url=STATUS,
    extra_headers={"agent": "sales"},
)
TWILIO_CONNECT = Stream(
    AGENT,
    protocol="twilio",
    bidirectional=True,
    blocking=True,
    content_type="audio/x-mulaw;rate=8000",
    name="bot",
    parameters={"customer": "42"},
    action="http://app.test/after-stream",
    status_callback_url=STATUS,
)


def l16_16k(level: int, frames: int) -> str:
    return base64.b64encode(np.full(frames * 320, level, "<i2").tobytes()).decode()


def mulaw(level: int, frames: int) -> str:
    return base64.b64encode(ulaw_encode(pcm_level(level, frames))).decode()


def played_at(leg: FakeLeg, level: int) -> int:
    """How many frames of ``level`` the caller heard (within G.711/resampling error)."""
    return sum(1 for frame in leg.session.played if abs(int(frame[80]) - level) < level // 20)


async def start(call: Call, services: FakeServices, verb: Stream) -> tuple[Any, FakeAgentSocket]:
    running = asyncio.ensure_future(EXECUTORS[Stream](call, verb))
    await until(lambda: verb.url in services.streams.sockets)
    agent = services.streams.sockets[verb.url]
    await until(lambda: "start" in agent.events())
    return running, agent


async def test_plivo_two_way_stream_sends_start_and_the_callers_audio_at_16_khz(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    leg.session.caller_says(pcm_level(2000, 5))
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    await until(lambda: len(agent.of("media")) >= 5)

    (start_message,) = agent.of("start")
    info = start_message["start"]
    assert info["callId"] == call.uuid and info["accountId"] == call.route.account.auth_id
    assert info["tracks"] == ["inbound"]
    assert info["mediaFormat"] == {"encoding": "audio/x-l16", "sampleRate": 16000}
    assert start_message["extra_headers"] == "agent=sales"
    media = agent.of("media")[:5]
    assert [m["media"]["chunk"] for m in media] == [1, 2, 3, 4, 5]
    assert all(m["media"]["track"] == "inbound" for m in media)
    samples = np.frombuffer(base64.b64decode(media[2]["media"]["payload"]), "<i2")
    assert len(samples) == 2 * FRAME_SAMPLES and (samples == 2000).all()
    assert leg.codes == [200] and services.streams.reaches == [Reach.PRIVATE]

    agent.hang_up()
    assert await running == NEXT
    await services.settle()
    events = [r.params["Event"] for r in services.webhooks.to(STATUS)]
    assert events == ["StartStream", "StopStream"]


async def test_plivo_checkpoint_is_answered_once_the_audio_before_it_has_played(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    play = {"contentType": "audio/x-l16", "sampleRate": 16000, "payload": l16_16k(3000, 10)}
    agent.says({"event": "playAudio", "media": play})
    agent.says({"event": "checkpoint", "streamId": "x", "name": "greeting"})
    await until(lambda: agent.of("playedStream"))

    assert played_at(leg, 3000) == 10  # all of it, and not a frame less, when the answer came
    (answer,) = agent.of("playedStream")
    assert answer["name"] == "greeting"
    agent.hang_up()
    await running


async def test_plivo_clear_audio_silences_the_call_within_a_frame(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.says({"event": "playAudio", "media": {"payload": l16_16k(3000, 250)}})
    await until(lambda: played_at(leg, 3000) >= 10)

    agent.says({"event": "clearAudio", "streamId": "x"})
    await until(lambda: agent.of("clearedAudio"))
    heard = played_at(leg, 3000)
    await asyncio.sleep(10 * FRAME_SECONDS)

    assert played_at(leg, 3000) <= heard + 1
    assert not leg.session.played[-1].any()
    agent.hang_up()
    await running


async def test_callers_keys_reach_the_agent_in_order_with_the_audio(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    tone = pcm_level(1000, 1)
    leg.session.caller_sends(tone, tone, "5", tone, "#")
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    await until(lambda: len(agent.of("dtmf")) == 2)

    sequence = [
        "media" if m["event"] == "media" else m["dtmf"]["digit"]
        for _, m in agent.received
        if m["event"] in ("media", "dtmf")
    ]
    assert sequence == ["media", "media", "5", "media", "#"]
    agent.hang_up()
    await running
    assert call.media.digits.empty()  # they were the agent's, not a later GetInput's


async def test_twilio_connect_stream_speaks_twilios_messages_and_fetches_the_action(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    services.webhooks.answer(TWILIO_CONNECT.action, "<Response><Say>bye</Say></Response>")
    leg.session.caller_says(pcm_level(1500, 3))
    running, agent = await start(call, services, TWILIO_CONNECT)
    await until(lambda: len(agent.of("media")) >= 3)

    assert agent.events()[:2] == ["connected", "start"]
    start_info = agent.of("start")[0]["start"]
    assert start_info["customParameters"] == {"customer": "42"}
    assert start_info["callSid"] == call.uuid
    assert start_info["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    sequence = [int(m["sequenceNumber"]) for _, m in agent.received[1:]]
    assert sequence == list(range(1, len(sequence) + 1))
    heard = ulaw_decode(base64.b64decode(agent.of("media")[1]["media"]["payload"]))
    assert abs(int(heard[0]) - 1500) < 75

    agent.says({"event": "media", "streamSid": "x", "media": {"payload": mulaw(2500, 5)}})
    agent.says({"event": "mark", "streamSid": "x", "mark": {"name": "one"}})
    agent.says({"event": "media", "streamSid": "x", "media": {"payload": mulaw(2500, 5)}})
    agent.says({"event": "mark", "streamSid": "x", "mark": {"name": "two"}})
    await until(lambda: len(agent.of("mark")) == 2)
    assert [m["mark"]["name"] for m in agent.of("mark")] == ["one", "two"]
    assert played_at(leg, 2500) == 10

    agent.hang_up()
    outcome: Outcome = await running
    assert isinstance(outcome, NewDocument)
    assert isinstance(outcome.document.verbs[0], Speak)
    after = services.webhooks.one(TWILIO_CONNECT.action)
    assert after.params["StreamSid"] == agent.of("start")[0]["streamSid"]
    await services.settle()
    events = [r.params["StreamEvent"] for r in services.webhooks.to(STATUS)]
    assert events == ["stream-started", "stream-stopped"]


async def test_a_call_placed_through_the_twilio_api_streams_under_its_twilio_ids(
    call: Call, services: FakeServices
) -> None:
    call.sip_headers.update(twilio_ids(call.record))  # as control/originate.py gives it
    running, agent = await start(call, services, TWILIO_CONNECT)
    agent.hang_up()
    await running
    await services.settle()

    info = agent.of("start")[0]["start"]
    assert info["callSid"] == twilio_call_sid(call.uuid)
    assert info["accountSid"] == twilio_account_sid(call.route.account.auth_id)
    assert info["streamSid"].startswith("MZ") and len(info["streamSid"]) == 34
    (started, stopped) = (r.params for r in services.webhooks.to(STATUS))
    assert started["CallSid"] == stopped["CallSid"] == info["callSid"]
    assert started["AccountSid"] == info["accountSid"]


async def test_twilio_clear_answers_the_marks_it_dropped(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, TWILIO_CONNECT)
    agent.says({"event": "media", "media": {"payload": mulaw(2500, 200)}})
    agent.says({"event": "mark", "mark": {"name": "end-of-sentence"}})
    await until(lambda: played_at(leg, 2500) >= 5)

    agent.says({"event": "clear", "streamSid": "x"})
    await until(lambda: agent.of("mark"))

    assert played_at(leg, 2500) < 20
    assert agent.of("mark")[0]["mark"]["name"] == "end-of-sentence"
    agent.hang_up()
    await running


async def test_a_rest_api_play_mixes_over_the_agents_audio(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.says({"event": "playAudio", "media": {"payload": l16_16k(3000, 50)}})
    await until(lambda: played_at(leg, 3000) >= 2)
    call.media.overlay(iter([pcm_level(500, 1)] * 5))
    await until(lambda: played_at(leg, 3500) == 5)

    assert played_at(leg, 3500) == 5
    agent.hang_up()
    await running


async def test_a_session_recording_keeps_the_agents_audio(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    assert await EXECUTORS[Record](call, Record(record_session=True, file_format="wav")) == NEXT
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.says({"event": "playAudio", "media": {"payload": l16_16k(3000, 10)}})
    agent.says({"event": "checkpoint", "name": "done"})
    await until(lambda: agent.of("playedStream"))
    agent.hang_up()
    await running
    await call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()

    (recording,) = services.recordings
    kept = wav_samples(recording.path)
    assert (np.abs(kept.astype(np.int32) - 3000) < 150).sum() >= 9 * FRAME_SAMPLES


async def test_handshake_carries_each_platforms_signature(
    call: Call, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.hang_up()
    await running
    headers = agent.headers
    # The SDK's own computation (its validate_v3_signature refuses ws:// URLs up front).
    signed = construct_get_url(AGENT, {}).decode()
    expected = get_signature_v3(AUTH_TOKEN, signed, headers["X-Plivo-Signature-V3-Nonce"])
    assert expected.decode() == headers["X-Plivo-Signature-V3"]

    services.streams.sockets.clear()
    running, agent = await start(call, services, TWILIO_CONNECT)
    agent.hang_up()
    await running
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(AGENT, {}, agent.headers["X-Twilio-Signature"])


async def test_refused_socket_is_noted_reported_and_the_document_goes_on(
    call: Call, services: FakeServices
) -> None:
    services.streams.refused.add(AGENT)

    assert await EXECUTORS[Stream](call, PLIVO_TWO_WAY) == NEXT

    assert "connection refused" in (call.record.error or "")
    await services.settle()
    (status,) = services.webhooks.to(STATUS)
    assert status.params["Event"] == "FailedStream" and "refused" in status.params["Error"]
    assert not call.ended


async def test_a_broken_socket_is_reported_and_the_document_goes_on(
    call: Call, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.breaks()

    assert await running == NEXT
    assert "socket lost" in call.record.events[-1]["message"]
    await services.settle()
    events = [r.params["Event"] for r in services.webhooks.to(STATUS)]
    assert events == ["StartStream", "FailedStream"]
    assert not call.ended


async def test_bad_messages_are_dropped_and_the_stream_goes_on(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    agent.says("{not json")
    agent.says(b"\x00binary")
    agent.says({"event": "playAudio", "media": {"payload": "%%%not-base64"}})
    agent.says({"event": "playAudio", "media": {"payload": l16_16k(1, 1), "sampleRate": 44100}})
    agent.says({"event": "playAudio", "media": {"payload": "AAAA"}})  # 3 bytes: half a sample
    agent.says({"event": "dance"})
    agent.says(["a", "list"])
    agent.says({"event": "playAudio", "media": {"payload": l16_16k(3000, 4)}})
    await until(lambda: played_at(leg, 3000) == 4)

    agent.hang_up()
    assert await running == NEXT
    assert "7 bad messages dropped" in call.record.events[-1]["message"]


async def test_a_flood_of_agent_audio_is_bounded_and_counted(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    second = l16_16k(3000, 50)
    for _ in range(70):  # 70 s of audio at once; 60 s are kept
        agent.says({"event": "playAudio", "media": {"payload": second}})
    await asyncio.sleep(0.5)
    agent.hang_up()
    await running

    assert "500 frames of agent audio dropped" in call.record.events[-1]["message"]


async def test_a_slow_agent_gets_the_messages_in_order_and_the_oldest_are_dropped(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    running, agent = await start(call, services, PLIVO_TWO_WAY)
    leg.session.caller_says(pcm_level(1000, 5))
    await until(lambda: len(agent.of("media")) == 5)
    agent.full = True  # the agent stops reading: what the call sends waits, bounded
    leg.session.caller_says(pcm_level(1000, MAX_UNSENT + 20))
    await asyncio.sleep((MAX_UNSENT + 30) * FRAME_SECONDS)
    assert len(agent.of("media")) == 5

    agent.drains()
    await until(lambda: agent.of("media")[-1]["media"]["chunk"] == MAX_UNSENT + 25)
    chunks = [m["media"]["chunk"] for m in agent.of("media")]
    # chunk 6 was on its way when the agent stopped reading; 7-25 made way for the newest
    assert chunks == [1, 2, 3, 4, 5, 6, *range(26, MAX_UNSENT + 26)]
    agent.hang_up()
    await running
    assert "19 messages to the agent dropped (socket slow)" in call.record.events[-1]["message"]


async def test_stream_timeout_ends_a_blocking_stream(call: Call, services: FakeServices) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    verb = Stream(AGENT, blocking=True, stream_timeout=3)
    running = asyncio.ensure_future(EXECUTORS[Stream](call, verb))
    await until(lambda: AGENT in services.streams.sockets)

    assert await running == NEXT
    assert 3 <= loop.time() - began < 3.5
    assert services.streams.sockets[AGENT].events()[-1] == "stop"
    assert "streamTimeout" in call.record.events[-1]["message"]


async def test_a_fork_streams_both_tracks_beside_the_next_verbs_until_stopped(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    fork = Stream(AGENT, protocol="twilio", audio_track="both", name="fork")
    leg.session.caller_says(pcm_level(1000, 20))

    assert await EXECUTORS[Stream](call, fork) == NEXT
    await until(lambda: AGENT in services.streams.sockets)
    agent = services.streams.sockets[AGENT]
    assert await EXECUTORS[Speak](call, Speak("hello")) == NEXT

    tracks = {m["media"]["track"] for m in agent.of("media")}
    assert tracks == {"inbound", "outbound"}
    spoken = services.tts.sounds["hello"]
    outbound = [m for m in agent.of("media") if m["media"]["track"] == "outbound"]
    first = ulaw_decode(base64.b64decode(outbound[0]["media"]["payload"]))
    assert abs(int(first[0]) - int(spoken[0])) < 60

    assert await EXECUTORS[StopStream](call, StopStream("fork")) == NEXT
    assert agent.events()[-1] == "stop" and agent.closed
    assert [s.status for s in call.streams.values()] == ["completed"]


async def test_a_fork_stops_when_the_call_ends(call: Call, services: FakeServices) -> None:
    assert await EXECUTORS[Stream](call, Stream(AGENT)) == NEXT
    await until(lambda: AGENT in services.streams.sockets)
    agent = services.streams.sockets[AGENT]

    call.remote_hangup()
    await until(lambda: agent.closed)
    assert agent.events()[-1] == "stop"


async def test_the_caller_hanging_up_stops_a_blocking_stream(
    call: Call, services: FakeServices
) -> None:
    running, agent = await start(call, services, TWILIO_CONNECT)
    call.task = running  # type: ignore[assignment]

    call.remote_hangup()

    await asyncio.gather(running, return_exceptions=True)
    assert running.cancelled()
    assert agent.events()[-1] == "stop" and agent.closed
    assert services.webhooks.to(TWILIO_CONNECT.action) == []
    await services.settle()
    events = [r.params["StreamEvent"] for r in services.webhooks.to(STATUS)]
    assert events == ["stream-started", "stream-stopped"]


async def test_a_two_way_fork_mixes_the_agent_over_the_next_verbs(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    fork = Stream(AGENT, bidirectional=True)  # keepCallAlive false: beside the document

    assert await EXECUTORS[Stream](call, fork) == NEXT
    await until(lambda: AGENT in services.streams.sockets)
    agent = services.streams.sockets[AGENT]
    agent_audio = np.full(FRAME_SAMPLES * 20, 300, "<i2").tobytes()
    agent.says({"event": "playAudio", "media": {"payload": base64.b64encode(agent_audio).decode()}})
    services.tts.sounds["over"] = pcm_level(1000, 5)
    await until(lambda: played_at(leg, 300) >= 1)  # alone first, while no verb plays
    assert await EXECUTORS[Speak](call, Speak("over")) == NEXT

    assert played_at(leg, 1300) == 5  # each frame Speak played had the agent mixed under it
    await until(lambda: played_at(leg, 300) + played_at(leg, 1300) == 20)
    call.remote_hangup()
    await until(lambda: agent.closed)


async def test_a_rest_api_play_on_a_two_way_fork_mixes_over_the_agent_which_goes_on(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    fork = Stream(AGENT, bidirectional=True)  # keepCallAlive false: beside the document
    assert await EXECUTORS[Stream](call, fork) == NEXT
    await until(lambda: AGENT in services.streams.sockets)
    agent = services.streams.sockets[AGENT]
    agent_audio = base64.b64encode(np.full(FRAME_SAMPLES * 20, 300, "<i2").tobytes()).decode()
    agent.says({"event": "playAudio", "media": {"payload": agent_audio}})
    await until(lambda: played_at(leg, 300) >= 1)

    overlay(call, pcm_level(1000, 5), loop=False, length=None, mix=True)  # POST .../Play/
    await until(lambda: played_at(leg, 300) + played_at(leg, 1300) == 20)
    assert played_at(leg, 1300) == 5  # the Play, with the agent mixed under each frame

    overlay(call, pcm_level(1000, 500), loop=False, length=None, mix=True)
    agent.says({"event": "playAudio", "media": {"payload": agent_audio}})
    agent.says({"event": "checkpoint", "name": "after"})
    await until(lambda: played_at(leg, 1300) >= 8)
    assert call.leg.media is not None
    await call.leg.media.stop_overlay()  # DELETE .../Play/ stops the Play, not the agent
    await until(lambda: agent.of("playedStream"))
    assert played_at(leg, 300) + played_at(leg, 1300) == 40
    call.remote_hangup()
    await until(lambda: agent.closed)


async def test_forks_are_bounded_and_ended_ones_pruned(call: Call, services: FakeServices) -> None:
    urls = [f"wss://agent.test/{n}" for n in range(MAX_FORKS + 1)]
    for url in urls:
        assert await EXECUTORS[Stream](call, Stream(url)) == NEXT
    await until(lambda: len(services.streams.sockets) == MAX_FORKS)

    assert urls[-1] not in services.streams.sockets
    assert f"{MAX_FORKS} already running" in (call.record.error or "")
    for socket in services.streams.sockets.values():
        socket.hang_up()
    await until(lambda: all(s.ended for s in call.streams.values()))
    for n in range(KEPT_ENDED + 5):  # each ends at once: refused
        services.streams.refused.add(f"wss://agent.test/refused{n}")
        await EXECUTORS[Stream](call, Stream(f"wss://agent.test/refused{n}"))
        await until(lambda: all(s.ended for s in call.streams.values()))
    assert len(call.streams) == KEPT_ENDED
