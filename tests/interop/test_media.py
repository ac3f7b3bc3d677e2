"""Answered calls with media: a PJSUA2 phone hears prompts, sends digits and is recorded."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
from plivo import plivoxml

from tests.interop.harness import CallplaneServer, WebhookServer

_numbers = iter(range(15554440000, 15554449999))


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16)


def loud_frames(pcm: np.ndarray, threshold: float = 300.0) -> np.ndarray:
    """One boolean per 20 ms: was there sound?"""
    usable = pcm[: len(pcm) // 160 * 160].reshape(-1, 160).astype(np.float64)
    return np.sqrt((usable**2).mean(axis=1)) > threshold


def route(callplane: CallplaneServer, web: WebhookServer, document: str, **app: object) -> str:
    number = str(next(_numbers))
    url = web.set(f"/media/{number}", document)
    callplane.number(
        number, callplane.application(url, hangup_url=web.url(f"/hup/{number}"), **app)
    )
    return number


def test_speak_is_heard_then_the_call_ends(phone, callplane, web, tmp_path) -> None:
    response = plivoxml.ResponseElement().add(
        plivoxml.SpeakElement("Hello from Callplane. This is a test.")
    )
    number = route(callplane, web, response.to_string())
    heard = tmp_path / "heard.wav"
    log = phone.wait(phone.call(number, callplane.sip_port, record_to=heard), timeout=20)
    assert log.disconnected and ("CONFIRMED", 200) in log.states
    speech = loud_frames(read_wav(heard))
    assert 1.0 < speech.sum() * 0.02 < 5.0  # seconds of sound: about the sentence's length
    hangup = web.wait_for(f"/hup/{number}")[0].params
    assert hangup["HangupCauseName"] == "End Of XML Instructions"
    assert int(hangup["Duration"]) >= 2


def test_wait_is_silence_between_prompts(phone, callplane, web, tmp_path) -> None:
    document = '<Response><Speak>One.</Speak><Wait length="2"/><Speak>Two.</Speak></Response>'
    number = route(callplane, web, document)
    heard = tmp_path / "heard.wav"
    phone.wait(phone.call(number, callplane.sip_port, record_to=heard), timeout=20)
    sound = loud_frames(read_wav(heard))
    loud = np.flatnonzero(sound)
    gaps = np.diff(loud)
    assert gaps.max() * 0.02 >= 1.8  # the Wait
    assert loud.size > 10


def test_digits_reach_the_get_input_action_url(phone, callplane, web) -> None:
    number = str(next(_numbers))
    action = web.set(f"/digits/{number}", "<Response><Hangup/></Response>")
    document = (
        f'<Response><GetInput action="{action}" inputType="dtmf" numDigits="3" '
        f'executionTimeout="10"><Speak>Enter your code.</Speak></GetInput></Response>'
    )
    url = web.set(f"/media/{number}", document)
    callplane.number(number, callplane.application(url, hangup_url=web.url(f"/hup/{number}")))
    call = phone.call(number, callplane.sip_port)
    deadline = time.monotonic() + 15
    while not call.log.media_ready and time.monotonic() < deadline:
        phone.poll(0.05)
    phone.poll(0.5)  # GetInput has begun (digits before it would also be kept)
    call.dialDtmf("427")
    phone.wait(call, timeout=20)
    uuid = web.wait_for(f"/hup/{number}")[0].params["CallUUID"]
    assert web.seen(f"/digits/{number}"), callplane.api("GET", f"Call/{uuid}/")
    request = web.wait_for(f"/digits/{number}")[0]
    assert request.params["Digits"] == "427"


def test_play_of_a_bad_url_is_skipped_and_recorded_as_an_error(
    phone, callplane, web, tmp_path
) -> None:
    html = web.set("/not-audio.html", "<html>nope</html>", "text/html")
    document = f"<Response><Play>{html}</Play><Speak>Still here.</Speak></Response>"
    number = route(callplane, web, document)
    heard = tmp_path / "heard.wav"
    phone.wait(phone.call(number, callplane.sip_port, record_to=heard), timeout=20)
    assert loud_frames(read_wav(heard)).sum() > 10  # the Speak after it was played
    uuid = web.wait_for(f"/hup/{number}")[0].params["CallUUID"]
    record = callplane.api("GET", f"Call/{uuid}/")
    assert "text/html" in record["error"]


def test_play_wav_url(phone, callplane, web, tmp_path) -> None:
    t = np.arange(8000 * 2) / 8000
    tone = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone.tobytes())
    url = web.set("/tone.wav", path.read_bytes(), "audio/wav")
    number = route(callplane, web, f"<Response><Play>{url}</Play></Response>")
    heard = tmp_path / "heard.wav"
    phone.wait(phone.call(number, callplane.sip_port, record_to=heard), timeout=20)
    pcm = read_wav(heard).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    peak_hz = np.argmax(spectrum) * 8000 / len(pcm)
    assert abs(peak_hz - 1000) < 20
    assert 1.6 < loud_frames(read_wav(heard)).sum() * 0.02 < 2.4
