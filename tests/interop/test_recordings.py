"""<Record> end to end: a PJSUA2 phone plays a tone into `callplane serve`, the recording
is reported to the action URL, listed by the plivo SDK and downloadable with auth."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import httpx
import numpy as np
import plivo
import plivo.rest.client
import pytest
from plivo import exceptions

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pjua import UserAgent
from tests.interop.tones import peak_hz, write_tone

TONE_HZ = 600
RECORD_PARAMS = (
    "RecordUrl",
    "RecordingID",
    "RecordingDuration",
    "RecordingDurationMs",
    "RecordingStartMs",
    "RecordingEndMs",
)


def wav_samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    assert rate == 8000
    return samples


def test_a_recorded_tone_is_listed_reported_and_downloadable(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    number = "15553340001"
    action = web.set("/rec/action", "<Response><Hangup/></Response>")
    document = (
        f'<Response><Record action="{action}" fileFormat="wav" maxLength="3" '
        f'timeout="10" playBeep="false"/></Response>'
    )
    answer = web.set("/rec/answer", document)
    callplane.number(number, callplane.application(answer, hangup_url=web.url("/rec/hangup")))
    tone = write_tone(tmp_path / "tone.wav", TONE_HZ, 6.0, amplitude=8000)
    log = phone.wait(phone.call(number, callplane.sip_port, play=tone), timeout=20)
    assert log.disconnected and ("CONFIRMED", 200) in log.states

    params = web.wait_for("/rec/action")[0].params
    assert set(RECORD_PARAMS) <= set(params), params
    recording_id = params["RecordingID"]
    assert params["RecordUrl"].endswith(f"/v1/Account/{AUTH_ID}/Recording/{recording_id}.wav")
    duration_ms = int(params["RecordingDurationMs"])
    assert 2000 <= duration_ms <= 3500
    assert int(params["RecordingDuration"]) == round(duration_ms / 1000)
    # start/end are on the packet clock, the duration is the samples written: close.
    span_ms = int(params["RecordingEndMs"]) - int(params["RecordingStartMs"])
    assert abs(span_ms - duration_ms) <= 100

    call_uuid = web.wait_for("/rec/answer")[0].params["CallUUID"]
    listed = sdk.recordings.list(call_uuid=call_uuid)
    assert [r.recording_id for r in listed] == [recording_id]
    assert recording_id in [r.recording_id for r in sdk.recordings.list()]
    rec = sdk.recordings.get(recording_id)
    assert (rec.call_uuid, rec.recording_format, rec.recording_type) == (call_uuid, "wav", "call")
    assert float(rec.recording_duration_ms) == duration_ms
    assert rec.recording_url == (
        f"http://127.0.0.1:{callplane.http_port}/v1/Account/{AUTH_ID}/Recording/{recording_id}.wav"
    )

    download = httpx.get(rec.recording_url, auth=(AUTH_ID, AUTH_TOKEN), timeout=10)
    assert download.status_code == 200 and download.headers["content-type"] == "audio/wav"
    samples = wav_samples(download.content)
    assert abs(len(samples) / 8 - duration_ms) < 100
    assert abs(peak_hz(samples) - TONE_HZ) < 20
    assert httpx.get(rec.recording_url, timeout=10).status_code == 401
    assert httpx.get(rec.recording_url, auth=(AUTH_ID, "wrong"), timeout=10).status_code == 401

    sdk.recordings.delete(recording_id)
    assert httpx.get(rec.recording_url, auth=(AUTH_ID, AUTH_TOKEN), timeout=10).status_code == 404
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.recordings.get(recording_id)


def test_another_account_cannot_download_a_recording(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    number = "15553340002"
    action = web.set("/rec2/action", "<Response><Hangup/></Response>")
    document = (
        f'<Response><Record action="{action}" fileFormat="wav" maxLength="1" '
        f'playBeep="false"/></Response>'
    )
    callplane.number(number, callplane.application(web.set("/rec2/answer", document)))
    tone = write_tone(tmp_path / "tone.wav", TONE_HZ, 3.0, amplitude=8000)
    phone.wait(phone.call(number, callplane.sip_port, play=tone), timeout=20)
    recording_id = web.wait_for("/rec2/action")[0].params["RecordingID"]
    other = sdk.subaccounts.create(name="other", enabled=True)
    url = (
        f"http://127.0.0.1:{callplane.http_port}/v1/Account/{other.auth_id}/Recording/"
        f"{recording_id}.wav"
    )
    assert httpx.get(url, auth=(other.auth_id, other.auth_token), timeout=10).status_code == 404
    own = sdk.recordings.get(recording_id).recording_url
    assert httpx.get(own, auth=(other.auth_id, other.auth_token), timeout=10).status_code == 401


def band_energy(pcm: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    return float(spectrum[(freqs >= low) & (freqs <= high)].sum())


def test_record_session_keeps_both_directions(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    number = "15557771010"
    callback = web.url("/session-recorded")
    document = (
        f'<Response><Record recordSession="true" fileFormat="wav" callbackUrl="{callback}"/>'
        '<Wait length="1"/><Play>'
        + web.set(
            "/session-tone.wav",
            write_tone(tmp_path / "out.wav", 1500, 1.5, amplitude=8000).read_bytes(),
            "audio/wav",
        )
        + "</Play></Response>"
    )
    callplane.number(number, callplane.application(web.set("/session", document)))
    tone = write_tone(tmp_path / "in.wav", 600, 4.0, amplitude=8000)
    phone.wait(phone.call(number, callplane.sip_port, play=tone), timeout=20)
    params = web.wait_for("/session-recorded")[0].params
    audio = httpx.get(params["RecordUrl"], auth=(AUTH_ID, AUTH_TOKEN), timeout=10)
    assert audio.status_code == 200
    pcm = wav_samples(audio.content)
    assert 2000 <= int(params["RecordingDurationMs"]) <= 4000
    quiet = band_energy(pcm, 2480, 2520)  # no tone there: the noise floor
    assert band_energy(pcm, 580, 620) > 10 * quiet  # the caller's tone
    assert band_energy(pcm, 1480, 1520) > 10 * quiet  # what Callplane played
