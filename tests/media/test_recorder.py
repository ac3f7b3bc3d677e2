from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from callplane.media.decode import decode_audio
from callplane.media.errors import RecordingError
from callplane.media.pcm import FRAME_MS, beep, frames, silence, tone
from callplane.media.recorder import Recorder, StopReason, mp3_available
from tests.media.helpers import dominant_hz


def feed_all(recorder: Recorder, audio: np.ndarray, start_ms: int = 10_000) -> int:
    """Feed 20 ms frames until the recorder stops; returns how many frames it took."""
    fed = 0
    for fed, frame in enumerate(frames(audio), start=1):
        if recorder.feed(frame, start_ms + (fed - 1) * FRAME_MS):
            break
    return fed


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path)) as wav:
        return wav.getparams(), np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def test_stops_on_silence_and_writes_the_tone(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "msg.wav", max_length=60, silence_timeout=2)
    fed = feed_all(recorder, np.concatenate([tone(440, 1.0, 0.3), silence(10)]))
    assert recorder.done and recorder.stop_reason is StopReason.SILENCE
    assert fed == 150  # 1 s of tone + 2 s of silence
    result = recorder.finish()
    assert (result.duration_ms, result.duration) == (3000, 3.0)
    assert (result.start_ms, result.end_ms) == (10_000, 13_000)
    params, audio = read_wav(result.path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 8000)
    assert len(audio) == 24_000
    assert dominant_hz(audio[:8000]) == pytest.approx(440, abs=2)
    assert not audio[8000:].any()


def test_max_length_is_respected_exactly(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "long.wav", max_length=1.01, silence_timeout=5)
    feed_all(recorder, tone(440, 5.0))
    assert recorder.stop_reason is StopReason.MAX_LENGTH
    result = recorder.finish()
    assert result.duration_ms == 1010
    assert len(read_wav(result.path)[1]) == 8080


def test_silence_counts_from_the_start_like_plivo(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "quiet.wav", silence_timeout=1)
    assert feed_all(recorder, silence(5)) == 50
    assert recorder.stop_reason is StopReason.SILENCE


def test_silence_after_speech_only_when_asked(tmp_path: Path) -> None:
    recorder = Recorder(
        tmp_path / "q.wav", max_length=3, silence_timeout=1, silence_from_start=False
    )
    feed_all(recorder, silence(5))
    assert recorder.stop_reason is StopReason.MAX_LENGTH


def test_no_silence_timeout_runs_to_max_length(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "q.wav", max_length=2, silence_timeout=None)
    feed_all(recorder, silence(5))
    assert recorder.stop_reason is StopReason.MAX_LENGTH


def test_stop_from_outside_and_feeding_after_done(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "k.wav", silence_timeout=5)
    recorder.feed(tone(440, 0.02), 0)
    recorder.stop(StopReason.FINISH_KEY)
    assert recorder.feed(tone(440, 0.02), 20) is StopReason.FINISH_KEY
    assert recorder.finish().duration_ms == 20


def test_trim_silence_removes_both_ends(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "t.wav", silence_timeout=1, trim_silence=True)
    feed_all(recorder, np.concatenate([silence(0.5), tone(440, 0.4), silence(3)]))
    result = recorder.finish()
    assert result.duration_ms == 400
    assert result.stop_reason is StopReason.SILENCE


def test_nothing_trimmed_by_default(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "t.wav", silence_timeout=1)
    feed_all(recorder, np.concatenate([silence(0.5), tone(440, 0.4), silence(3)]))
    assert recorder.finish().duration_ms == 1900


def test_prompt_is_the_beep_when_asked(tmp_path: Path) -> None:
    assert np.array_equal(Recorder(tmp_path / "a.wav").prompt, beep())
    assert len(Recorder(tmp_path / "b.wav", play_beep=False).prompt) == 0


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="file_format"):
        Recorder(tmp_path / "x.ogg", file_format="ogg")
    with pytest.raises(RecordingError, match="max_length"):
        Recorder(tmp_path / "x.wav", max_length=0)


@pytest.mark.skipif(not mp3_available(), reason="lameenc not installed")
def test_mp3_recording_decodes_back(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "msg.mp3", file_format="mp3", silence_timeout=1)
    feed_all(recorder, np.concatenate([tone(440, 1.0), silence(2)]))
    result = recorder.finish()
    audio = decode_audio(result.path.read_bytes())
    assert result.path.read_bytes()[:2] == b"\xff\xe3"  # MPEG-2.5 layer III: 8 kHz
    assert 1.9 < len(audio) / 8000 < 2.3
    assert dominant_hz(audio[:8000]) == pytest.approx(440, abs=3)


def test_mp3_without_encoder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lameenc", None)
    with pytest.raises(RecordingError, match="lameenc"):
        Recorder(tmp_path / "x.mp3", file_format="mp3")
