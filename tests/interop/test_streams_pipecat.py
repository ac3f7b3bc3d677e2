"""<Stream> against pipecat-ai, a voice-agent framework nobody here wrote: its unmodified
``TwilioFrameSerializer`` / ``PlivoFrameSerializer`` and telephony runner behind a real
``websockets`` server (``pipecat_agent.PipecatAgent``), a PJSUA2 caller and a real
``callplane serve``. The caller hears its own tone echoed back within a bounded delay,
its key reaches the agent as an ``InputDTMFFrame``, pipecat's interruption (``clear``)
cuts the agent's audio, marks come back in order, the status callbacks fire, and a
Twilio bot's ``EndFrame`` hangs the call up through Callplane's Twilio API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.harness import AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pipecat_agent import PipecatAgent
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.tones import peak_hz, seconds_of, wav_pcm, write_tone

CALLER_HZ = 440
ECHO_FRAMES = 60  # the caller presses a key once the agent has heard 1.2 s
LEVEL = 10  # of pjsua's 0-255 signal level: sound, not silence
MAX_ECHO_DELAY = 2.0  # seconds from the caller's tone to its echo, through both jitter buffers


@pytest.fixture
def agent(request: pytest.FixtureRequest, callplane: CallplaneServer) -> Iterator[PipecatAgent]:
    running = PipecatAgent(
        request.param,
        auth_token=AUTH_TOKEN,
        twilio_api=f"http://127.0.0.1:{callplane.http_port}",
    ).start()
    yield running
    running.stop()


def document(agent: PipecatAgent, status: str) -> str:
    if agent.protocol == "plivo":  # pipecat's Plivo serializer speaks mu-law 8 kHz
        return (
            '<Response><Stream bidirectional="true" keepCallAlive="true"'
            f' contentType="audio/x-mulaw;rate=8000" statusCallbackUrl="{status}">'
            f"{agent.url}</Stream></Response>"
        )
    return (
        f'<Response><Connect><Stream url="{agent.url}" statusCallback="{status}"/>'
        "</Connect></Response>"
    )


def echo_delay(phone: UserAgent, call: UaCall, agent: PipecatAgent) -> tuple[float, float]:
    """When the caller started sending its tone, and how long until it heard it back:
    the first moments its call port carried sound out and then in, read from pjsua's
    level meters. (The WAV recorder skips the silence
    before the echo, so the recording has no common time base with the tone.)
    Returns once the agent has also heard ``ECHO_FRAMES`` frames."""
    sent_at = heard_at = 0.0
    deadline = time.monotonic() + 15
    while not (heard_at and len(agent.pipecat_sessions[0].heard) >= ECHO_FRAMES):
        assert time.monotonic() < deadline, f"no echo: sent at {sent_at}, heard at {heard_at}"
        phone.poll(0.005)
        if not call.log.media_ready:
            continue
        media = call.getAudioMedia(-1)
        now = time.monotonic()
        # levels as the bridge sees the call's port: it receives what the caller sends
        if not sent_at and media.getRxLevel() > LEVEL:
            sent_at = now
        if sent_at and not heard_at and media.getTxLevel() > LEVEL:
            heard_at = now
    return sent_at, heard_at - sent_at


def hangup_source(callplane: CallplaneServer, call_uuid: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        record = callplane.api("GET", f"Call/{call_uuid}/")
        if record.get("hangup_source"):
            return str(record["hangup_source"])
        assert time.monotonic() < deadline, record
        time.sleep(0.05)  # the record is written behind, in 50 ms batches


@pytest.mark.parametrize("agent", ["plivo", "twilio"], indirect=True)
def test_a_pipecat_agent_echoes_the_caller_hears_keys_clears_and_marks(
    agent: PipecatAgent,
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    tmp_path: Path,
) -> None:
    status_path = f"/pipecat/{agent.protocol}/status"
    answer = web.set(f"/pipecat/{agent.protocol}/answer", document(agent, web.url(status_path)))
    number = "1555333000" + ("1" if agent.protocol == "plivo" else "2")
    callplane.number(number, callplane.application(answer))
    heard = tmp_path / "caller-heard.wav"
    call = phone.call(
        number,
        callplane.sip_port,
        record_to=heard,
        play=write_tone(tmp_path / "caller.wav", CALLER_HZ, 3),
    )
    _, delay = echo_delay(phone, call, agent)
    print(f"{agent.protocol}: the caller heard its echo {delay * 1000:.0f} ms after sending")
    assert delay < MAX_ECHO_DELAY, delay
    call.dialDtmf("5")

    log = phone.wait(call, timeout=20)

    assert log.disconnected and log.media_ready
    (session,) = agent.pipecat_sessions
    assert session.done.wait(5)
    # pipecat's runner recognised the platform from our start message alone
    assert session.transport == agent.protocol
    assert session.stream_id and session.call_id
    # the caller's tone reached the agent as pipecat audio frames, its key as a DTMF frame
    assert abs(peak_hz(session.heard_pcm()) - CALLER_HZ) < 10
    assert session.digits == ["5"]
    assert session.marks == ["echo-end", "reply", "after-clear"]
    # the caller heard its own tone back, then the reply, and the cut-off audio only
    # until pipecat's interruption
    caller = wav_pcm(heard)
    assert seconds_of(caller, CALLER_HZ) >= 0.8
    assert seconds_of(caller, agent.reply_hz) >= agent.reply_seconds - 0.4
    cut = seconds_of(caller, agent.cut_hz)
    assert 0 < cut <= agent.cut_after + 0.6, cut
    events = [r.params for r in web.wait_for(status_path, count=2, timeout=10)]
    if agent.protocol == "plivo":
        assert [e["Event"] for e in events] == ["StartStream", "StopStream"]
        assert {e["StreamID"] for e in events} == {session.stream_id}
        assert hangup_source(callplane, session.call_id) == "Answer XML"
    else:
        assert [e["StreamEvent"] for e in events] == ["stream-started", "stream-stopped"]
        assert {e["StreamSid"] for e in events} == {session.stream_id}
        # pipecat's auto hang-up went to Callplane's Twilio API (its base_url)
        assert hangup_source(callplane, session.call_id) == "API Request"
