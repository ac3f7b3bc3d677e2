"""<Stream> end to end: a PJSUA2 caller, a real `callplane serve`, and a voice agent on a real
`websockets` server. The agent hears the caller's tone and keys, the caller hears the agent,
marks come back when their audio has played, and `clear` cuts the agent off."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import plivo
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callplane.store.ids import twilio_call_sid
from tests.interop.harness import AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pjua import UserAgent
from tests.interop.tones import peak_hz, seconds_of, wav_pcm, write_tone
from tests.interop.voice_agent import VoiceAgent

CALLER_HZ = 440
REPLY_HZ = 1000
CUT_HZ = 1800


@pytest.fixture
def agent(request: pytest.FixtureRequest) -> Iterator[VoiceAgent]:
    protocol = request.param
    running = VoiceAgent(protocol, rate=16000 if protocol == "plivo" else 8000).start()
    yield running
    running.stop()


def document(agent: VoiceAgent, status: str) -> str:
    if agent.protocol == "plivo":
        return (
            '<Response><Stream bidirectional="true" keepCallAlive="true"'
            f' contentType="audio/x-l16;rate=16000" statusCallbackUrl="{status}"'
            f' extraHeaders="customer=42">{agent.url}</Stream></Response>'
        )
    return (
        f'<Response><Connect><Stream url="{agent.url}" statusCallback="{status}">'
        '<Parameter name="customer" value="42"/></Stream></Connect></Response>'
    )


@pytest.mark.parametrize("agent", ["plivo", "twilio"], indirect=True)
def test_voice_agent_and_caller_hear_each_other(
    agent: VoiceAgent,
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    tmp_path: Path,
) -> None:
    status_path = f"/streams/{agent.protocol}/status"
    status = web.url(status_path)
    answer = web.set(f"/streams/{agent.protocol}/answer", document(agent, status))
    number = "1555222000" + ("1" if agent.protocol == "plivo" else "2")
    callplane.number(number, callplane.application(answer))
    heard = tmp_path / "caller-heard.wav"
    call = phone.call(
        number,
        callplane.sip_port,
        record_to=heard,
        play=write_tone(tmp_path / "caller.wav", CALLER_HZ, 20),
    )
    deadline = time.monotonic() + 20
    while not (agent.sessions and len(agent.sessions[0].heard) >= 25):
        assert time.monotonic() < deadline, "the agent got no audio"
        phone.poll(0.02)
    call.dialDtmf("7")

    log = phone.wait(call, timeout=40)

    assert log.disconnected and log.media_ready
    (session,) = agent.sessions
    assert session.done.wait(5)
    # the agent heard the caller's tone and key
    if agent.protocol == "plivo":
        start = session.start["start"]
        assert start["mediaFormat"] == {"encoding": "audio/x-l16", "sampleRate": 16000}
        assert session.start["extra_headers"] == "customer=42"
        assert abs(peak_hz(session.heard_pcm()[::2]) - CALLER_HZ) < 10
    else:
        start = session.start["start"]
        assert start["customParameters"] == {"customer": "42"}
        assert abs(peak_hz(session.heard_pcm()) - CALLER_HZ) < 10
    assert session.digits == ["7"]
    # the mark came back once the reply had been played, at the call's pace
    waited = session.reply_answered_at - session.played_sent_at
    assert agent.reply_seconds - 0.2 <= waited <= agent.reply_seconds + 2.0, waited
    # the caller heard the reply, and the cut-off audio only until the clear
    caller = wav_pcm(heard)
    assert seconds_of(caller, REPLY_HZ) >= agent.reply_seconds - 0.4
    cut = seconds_of(caller, CUT_HZ)
    assert 0 < cut <= agent.cut_after + 0.6, cut
    events = [r.params for r in web.wait_for(status_path, count=2, timeout=10)]
    if agent.protocol == "plivo":
        assert [e["Event"] for e in events] == ["StartStream", "StopStream"]
    else:
        assert [e["StreamEvent"] for e in events] == ["stream-started", "stream-stopped"]


def test_plivo_sdk_starts_lists_and_stops_a_stream_on_a_live_call(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    listener = VoiceAgent("plivo", listen_frames=10**9).start()  # only listens
    try:
        answer = web.set("/streams/api/answer", '<Response><Wait length="30"/></Response>')
        callplane.number("15552220003", callplane.application(answer))
        call = phone.call(
            "15552220003", callplane.sip_port, play=write_tone(tmp_path / "c.wav", CALLER_HZ, 30)
        )
        deadline = time.monotonic() + 20
        while not (uuids := sdk.live_calls.list_ids().calls):
            assert time.monotonic() < deadline, "the call never went live"
            phone.poll(0.05)
        (uuid,) = uuids
        while sdk.live_calls.get(uuid).call_status != "in-progress":
            phone.poll(0.05)

        started = sdk.calls.start_stream(uuid, listener.url, audio_track="inbound")
        while not (listener.sessions and len(listener.sessions[0].heard) >= 50):
            assert time.monotonic() < deadline + 10, "the agent got no audio"
            phone.poll(0.02)
        (stream,) = sdk.calls.get_all_streams(uuid).objects
        assert stream.stream_id == started.stream_id and stream.status == "in-progress"
        details = sdk.calls.get_details_of_specific_stream(uuid, started.stream_id)
        assert details.service_url == listener.url

        sdk.calls.delete_specific_stream(uuid, started.stream_id)
        (session,) = listener.sessions
        while not session.done.is_set():
            phone.poll(0.02)
        assert session.start["start"]["callId"] == uuid
        assert session.events[-1][1] == "stop"
        assert abs(peak_hz(session.heard_pcm()) - CALLER_HZ) < 10
        details = sdk.calls.get_details_of_specific_stream(uuid, started.stream_id)
        assert details.status == "completed"
        with pytest.raises(plivo.exceptions.ResourceNotFoundError):
            sdk.calls.start_stream("no-such-call", listener.url)
        sdk.calls.delete(uuid)
        assert phone.wait(call, timeout=10).disconnected
    finally:
        listener.stop()


def test_twilio_sdk_starts_and_stops_a_stream_on_a_live_call(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    tmp_path: Path,
) -> None:
    listener = VoiceAgent("twilio", listen_frames=10**9).start()  # only listens
    try:
        answer = web.set("/streams/twilio-api/answer", "<Response><Pause length='30'/></Response>")
        callplane.number("15552220004", callplane.application(answer))
        call = phone.call(
            "15552220004", callplane.sip_port, play=write_tone(tmp_path / "c.wav", CALLER_HZ, 30)
        )
        (asked,) = web.wait_for("/streams/twilio-api/answer", timeout=10)
        call_sid = twilio_call_sid(asked.params["CallUUID"])
        account = callplane.api("GET", "")["twilio_account_sid"]
        client = Client(account, AUTH_TOKEN)
        client.api.base_url = f"http://127.0.0.1:{callplane.http_port}"
        status = web.url("/streams/twilio-api/status")

        started = client.calls(call_sid).streams.create(
            url=listener.url,
            name="fork",
            track="both_tracks",
            status_callback=status,
            parameter1_name="customer",
            parameter1_value="42",
        )
        assert started.sid.startswith("MZ") and len(started.sid) == 34
        assert (started.call_sid, started.account_sid) == (call_sid, account)
        assert started.name == "fork" and started.status == "in-progress"
        assert (
            started.uri
            == f"/2010-04-01/Accounts/{account}/Calls/{call_sid}/Streams/{started.sid}.json"
        )
        deadline = time.monotonic() + 10
        while not (listener.sessions and len(listener.sessions[0].heard) >= 50):
            assert time.monotonic() < deadline, "the agent got no audio"
            phone.poll(0.02)
        (session,) = listener.sessions
        start = session.start
        assert start["streamSid"] == start["start"]["streamSid"] == started.sid
        assert start["start"]["tracks"] == ["inbound_track", "outbound_track"]
        assert start["start"]["customParameters"] == {"customer": "42"}

        stopped = client.calls(call_sid).streams("fork").update(status="stopped")
        assert stopped.sid == started.sid and stopped.status == "stopped"
        while not session.done.is_set():
            phone.poll(0.02)
        assert session.events[-1][1] == "stop"
        events = [r.params for r in web.wait_for("/streams/twilio-api/status", count=2)]
        assert [e["StreamEvent"] for e in events] == ["stream-started", "stream-stopped"]
        assert {e["StreamSid"] for e in events} == {started.sid}
        assert {e["StreamName"] for e in events} == {"fork"}

        # (no `as`: an ExceptionInfo kept in this frame would keep the phone alive)
        with pytest.raises(TwilioRestException, match=r"HTTP 400 error.*Url: "):
            client.calls(call_sid).streams.create(url="http://127.0.0.1:9/agent")
        with pytest.raises(TwilioRestException, match="HTTP 404 error"):
            client.calls(twilio_call_sid(str(uuid.uuid4()))).streams.create(url=listener.url)
        client.calls(call_sid).update(status="completed")
        assert phone.wait(call, timeout=10).disconnected
    finally:
        listener.stop()
