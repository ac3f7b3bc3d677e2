"""Live-call control end to end: a PJSUA2 phone calls `callplane serve`, the plivo SDK
lists, reads, talks to, transfers and hangs up the call while it runs."""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pjsua2 as pj
import plivo
import plivo.rest.client
import pytest
from plivo import exceptions

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.tones import peak_hz, write_tone

SPEAK_FOREVER = '<Response><Speak loop="0">Please hold, we are connecting you.</Speak></Response>'
SILENCE = '<Response><Wait length="30"/></Response>'
TONE_HZ = 700
T = TypeVar("T")

_numbers = iter(range(15553350000, 15553359999))


class PhoneCall(UaCall):
    """A phone call that also notes the DTMF digits it receives (RFC 4733)."""

    def __init__(self, ua: UserAgent, record_to: Path | None) -> None:
        super().__init__(ua, record_to, None)
        self.digits: list[str] = []

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.digits.append(prm.digit)


def answered_call(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    document: str,
    record_to: Path | None = None,
) -> tuple[PhoneCall, str, str]:
    """Route a new number to ``document``, call it, wait for media: (call, number, uuid)."""
    number = str(next(_numbers))
    url = web.set(f"/live/{number}", document)
    app = callplane.application(url, hangup_url=web.url(f"/live-hangup/{number}"))
    callplane.number(number, app)
    call = PhoneCall(phone, record_to)
    call.makeCall(f"sip:{number}@127.0.0.1:{callplane.sip_port}", pj.CallOpParam(True))
    phone.calls.append(call)
    deadline = time.monotonic() + 10
    while not (call.log.media_ready and ("CONFIRMED", 200) in call.log.states):
        assert time.monotonic() < deadline and not call.log.disconnected, call.log.states
        phone.poll(0.05)
    uuid = web.wait_for(f"/live/{number}")[0].params["CallUUID"]
    return call, number, uuid


def polling(phone: UserAgent, action: Callable[[], T], timeout: float = 15.0) -> T:
    """Run an SDK request while the phone keeps answering SIP (it has no threads of its
    own: a BYE the request triggers waits for the phone's 200 OK)."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(action)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            phone.poll(0.02)
        return future.result(timeout=0)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16)


def loud_frames(pcm: np.ndarray, threshold: float = 300.0) -> np.ndarray:
    """One boolean per 20 ms: was there sound?"""
    usable = pcm[: len(pcm) // 160 * 160].reshape(-1, 160).astype(np.float64)
    return np.sqrt((usable**2).mean(axis=1)) > threshold


def test_a_running_call_is_listed_read_sent_digits_and_hung_up(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient
) -> None:
    call, number, uuid = answered_call(phone, callplane, web, SPEAK_FOREVER)
    assert uuid in sdk.live_calls.list_ids().calls
    live = sdk.live_calls.get(uuid)
    assert (live.call_uuid, live.direction, live.call_status) == (uuid, "inbound", "in-progress")
    assert live.to == number and "14155550100" in getattr(live, "from")
    assert live.session_start

    assert sdk.calls.send_digits(uuid, "1234", leg="aleg").message == "digits sent"
    deadline = time.monotonic() + 5
    while len(call.digits) < 4 and time.monotonic() < deadline:
        phone.poll(0.05)
    assert "".join(call.digits) == "1234"

    polling(phone, lambda: sdk.calls.hangup(uuid))
    log = phone.wait(call, timeout=10)
    assert log.disconnected  # the phone got the server's BYE
    hangup = web.wait_for(f"/live-hangup/{number}")[0].params
    assert hangup["CallUUID"] == uuid and hangup["HangupSource"] == "API Request"
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.live_calls.get(uuid)
    assert uuid not in sdk.live_calls.list_ids().calls
    record = _record_when_ended(sdk, uuid)
    assert record.hangup_source == "API Request" and record.to_number == number
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.calls.hangup(uuid)


def _record_when_ended(sdk: plivo.RestClient, uuid: str) -> Any:
    """The call's record once the record writer has flushed its final state."""
    deadline = time.monotonic() + 5
    while True:
        record = sdk.calls.get(uuid)
        if record.state == "ended" or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def test_speak_and_play_are_heard_and_stop(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    heard = tmp_path / "heard.wav"
    call, _, uuid = answered_call(phone, callplane, web, SILENCE, record_to=heard)
    phone.poll(1.0)
    spoken = sdk.calls.speak(uuid, "Hello from the REST API. This is a test.")
    assert spoken.message == "speak started"
    phone.poll(2.0)
    sdk.calls.speak_stop(uuid)
    phone.poll(0.5)
    tone_url = web.set(
        "/live/tone.wav",
        write_tone(tmp_path / "tone.wav", TONE_HZ, 1.0, amplitude=8000).read_bytes(),
        "audio/wav",
    )
    played = sdk.calls.play(uuid, tone_url, loop=True, mix=False)
    assert played.message == "play started"
    phone.poll(3.0)
    sdk.calls.play_stop(uuid)
    phone.poll(1.5)
    polling(phone, lambda: sdk.calls.hangup(uuid))
    phone.wait(call, timeout=10)

    pcm = read_wav(heard)
    sound = loud_frames(pcm)
    assert not sound[:25].any()  # the Wait: silence before the API spoke
    assert sound.sum() * 0.02 > 2.0  # speech, then the tone
    assert not sound[-25:].any()  # silence again after play_stop
    assert abs(peak_hz(pcm) - TONE_HZ) < 20


def test_transfer_fetches_and_runs_the_new_document(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient
) -> None:
    call, number, uuid = answered_call(phone, callplane, web, SPEAK_FOREVER)
    target = web.set(f"/live/transfer/{number}", "<Response><Speak>Moved.</Speak></Response>")
    moved = sdk.calls.transfer(uuid, legs="aleg", aleg_url=target, aleg_method="GET")
    assert moved.message == "call transferred"
    fetched = web.wait_for(f"/live/transfer/{number}")[0]
    assert fetched.method == "GET" and fetched.params["CallUUID"] == uuid
    log = phone.wait(call, timeout=15)  # the new document ends, so does the call
    assert log.disconnected
    hangup = web.wait_for(f"/live-hangup/{number}")[0].params
    assert hangup["HangupCauseName"] == "End Of XML Instructions"


def test_control_of_an_unknown_call_is_404_and_bad_legs_400(
    callplane: CallplaneServer, sdk: plivo.RestClient
) -> None:
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.live_calls.get("no-such-call")
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.calls.speak("no-such-call", "hello")
    with pytest.raises(exceptions.ValidationError, match="legs"):
        sdk.calls.transfer("no-such-call", legs="bleg", aleg_url="http://127.0.0.1:9/x")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/Call/a/", {"legs": "bleg", "aleg_url": "http://x/"}, "legs"),
        ("/Call/a/", {"legs": "both", "aleg_url": "http://x/"}, "legs"),
        ("/Call/a/", {"legs": "aleg", "aleg_url": "ftp://x/"}, "aleg_url"),
        ("/Call/a/", {"legs": "aleg"}, "aleg_url"),
        ("/Call/a/", {"aleg_url": "http://x/", "aleg_method": "PUT"}, "aleg_method"),
        ("/Call/a/", {"aleg_url": "http://x/", "bleg_url": "http://y/"}, "bleg_url"),
        ("/Call/a/Play/", {"urls": "http://x/a.wav,notaurl"}, "urls"),
        ("/Call/a/Play/", {"urls": "http://x/a.wav", "legs": "both"}, "legs"),
        ("/Call/a/Play/", {"urls": "http://x/a.wav", "length": 0}, "length"),
        ("/Call/a/Speak/", {"text": ""}, "text"),
        ("/Call/a/Speak/", {"text": "x", "loop": "sometimes"}, "loop"),
        ("/Call/a/DTMF/", {"digits": "12x"}, "digits"),
        ("/Call/a/DTMF/", {"digits": "1", "leg": "bleg"}, "leg"),
        ("/Call/a/DTMF/", {"digits": "1", "volume": 3}, "volume"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    callplane: CallplaneServer, path: str, body: dict[str, object], field: str
) -> None:
    # Fields are checked before the call is looked up: no live call is needed.
    response = httpx.post(
        callplane.api_base.rstrip("/") + path, json=body, auth=(AUTH_ID, AUTH_TOKEN)
    )
    assert response.status_code == 400, response.text
    assert list(response.json()["fields"]) == [field]


def test_sdk_sees_a_bad_legs_as_validation_error(sdk: plivo.RestClient) -> None:
    with pytest.raises(exceptions.ValidationError, match="aleg"):
        sdk.calls.transfer("a", legs="bleg", aleg_url="http://example.com/next")


def test_control_of_a_call_that_is_not_live_is_404(callplane: CallplaneServer) -> None:
    auth = (AUTH_ID, AUTH_TOKEN)
    base = callplane.api_base.rstrip("/")
    assert httpx.delete(f"{base}/Call/nope/", auth=auth).status_code == 404
    assert httpx.post(f"{base}/Call/nope/Speak/", json={"text": "x"}, auth=auth).status_code == 404
