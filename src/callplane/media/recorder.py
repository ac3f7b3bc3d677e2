"""``<Record>``: collect frames, decide when to stop, write the file.

The recorder is sans-IO in time: the call's media loop feeds it each received
frame with the current time in milliseconds and asks ``done``. It never plays
anything; when ``play_beep`` is set the verb plays ``recorder.prompt`` (the
Plivo beep, see ``pcm.beep``) before feeding the first frame.

Stopping rules (Plivo ``<Record>``):

* ``max_length`` seconds recorded -> ``StopReason.MAX_LENGTH`` (the last frame
  is cut so the file is exactly that long);
* ``silence_timeout`` seconds of continuous silence -> ``StopReason.SILENCE``.
  Plivo's ``timeout`` is "seconds of silence before considering the recording
  complete", counted by FreeSWITCH's ``record`` from the first frame, so a
  caller who never speaks is also cut off; ``silence_from_start=False``
  counts only after speech was heard (Twilio-like);
* ``stop(reason)`` from outside: finishOnKey digit, hangup, API.

Silence is a frame whose RMS is below ``silence_threshold`` (sample units;
the default 200 is about -44 dBFS). Nothing is trimmed unless
``trim_silence=True`` (leading and trailing silent frames, as Twilio's
``trim="trim-silence"``). Frames are kept in memory until ``finish()``.
"""

from __future__ import annotations

import enum
import wave
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from callplane.media.errors import RecordingError
from callplane.media.pcm import SAMPLE_RATE, Pcm, beep, rms

FORMATS = ("wav", "mp3")
MP3_KBPS = 32


class StopReason(enum.Enum):
    MAX_LENGTH = "max-length"
    SILENCE = "silence"
    FINISH_KEY = "finish-key"
    HANGUP = "hangup"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """The written file and its timing; ``start_ms``/``end_ms`` are on the feeder's clock."""

    path: Path
    file_format: str
    duration_ms: int
    start_ms: int
    end_ms: int
    stop_reason: StopReason

    @property
    def duration(self) -> float:
        """Seconds, as Plivo's ``RecordingDuration``."""
        return self.duration_ms / 1000


class Recorder:
    """Collects 8 kHz mono int16 frames until a stop rule fires, then writes WAV or MP3."""

    def __init__(
        self,
        path: Path | str,
        file_format: str = "wav",
        max_length: float = 60.0,
        silence_timeout: float | None = 15.0,
        play_beep: bool = True,
        silence_threshold: float = 200.0,
        silence_from_start: bool = True,
        trim_silence: bool = False,
    ) -> None:
        _check_format(file_format)
        if file_format == "mp3":
            _lameenc()
        if max_length <= 0:
            raise RecordingError(f"max_length must be > 0 seconds, got {max_length}")
        self.path = Path(path)
        self.file_format = file_format
        self.max_samples = round(max_length * SAMPLE_RATE)
        self.silence_samples = None if not silence_timeout else round(silence_timeout * SAMPLE_RATE)
        self.play_beep = play_beep
        self.silence_threshold = silence_threshold
        self.silence_from_start = silence_from_start
        self.trim_silence = trim_silence
        self.stop_reason: StopReason | None = None
        self.start_ms: int | None = None
        self.end_ms: int | None = None
        self._frames: list[Pcm] = []
        self._voiced: list[bool] = []
        self._samples = 0
        self._silent_run = 0
        self._heard_speech = False

    @property
    def prompt(self) -> Pcm:
        """What to play before recording: the beep, or nothing."""
        return beep() if self.play_beep else np.zeros(0, dtype=np.int16)

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def duration_ms(self) -> int:
        return self._samples * 1000 // SAMPLE_RATE

    def feed(self, frame: Pcm, now_ms: int) -> StopReason | None:
        """Record ``frame`` received at ``now_ms``; returns the stop reason once one fires."""
        if self.done:
            return self.stop_reason
        if self.start_ms is None:
            self.start_ms = now_ms
        frame = frame[: self.max_samples - self._samples]
        voiced = rms(frame) >= self.silence_threshold
        self._append(frame, voiced)
        self.end_ms = now_ms + len(frame) * 1000 // SAMPLE_RATE
        self.stop_reason = self._check_stop()
        return self.stop_reason

    def stop(self, reason: StopReason = StopReason.STOPPED) -> None:
        """Stop from outside (finishOnKey, hangup); a rule that already fired is kept."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def finish(self) -> RecordingResult:
        """Write the file (blocking; run it in a thread from async code) and describe it."""
        self.stop()
        pcm = self._audio()
        write_audio(self.path, pcm, self.file_format)
        start = self.start_ms or 0
        duration = len(pcm) * 1000 // SAMPLE_RATE
        reason = self.stop_reason or StopReason.STOPPED
        return RecordingResult(
            self.path, self.file_format, duration, start, self.end_ms or start, reason
        )

    def _append(self, frame: Pcm, voiced: bool) -> None:
        self._frames.append(np.asarray(frame, dtype=np.int16))
        self._voiced.append(voiced)
        self._samples += len(frame)
        self._heard_speech = self._heard_speech or voiced
        self._silent_run = 0 if voiced else self._silent_run + len(frame)

    def _check_stop(self) -> StopReason | None:
        if self._samples >= self.max_samples:
            return StopReason.MAX_LENGTH
        if self.silence_samples is None or self._silent_run < self.silence_samples:
            return None
        if self.silence_from_start or self._heard_speech:
            return StopReason.SILENCE
        return None

    def _audio(self) -> Pcm:
        frames, voiced = self._frames, self._voiced
        if self.trim_silence and any(voiced):
            first = voiced.index(True)
            last = len(voiced) - voiced[::-1].index(True)
            frames = frames[first:last]
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(frames)


def write_audio(path: Path, pcm: Pcm, file_format: str) -> None:
    """Write 8 kHz mono 16-bit ``pcm`` as WAV (stdlib ``wave``) or MP3 (``lameenc``)."""
    _check_format(file_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "wav":
        write_wav(path, pcm)
    else:
        path.write_bytes(encode_mp3(pcm))


def write_wav(path: Path, pcm: Pcm, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.asarray(pcm, dtype="<i2").tobytes())


def encode_mp3(pcm: Pcm, kbps: int = MP3_KBPS) -> bytes:
    """MP3 of 8 kHz mono ``pcm`` (MPEG-2.5 layer III); needs the optional ``lameenc`` package."""
    lameenc = _lameenc()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(2)
    data = encoder.encode(np.asarray(pcm, dtype="<i2").tobytes())
    return bytes(data) + bytes(encoder.flush())


def mp3_available() -> bool:
    try:
        _lameenc()
    except RecordingError:
        return False
    return True


def _lameenc() -> ModuleType:
    try:
        import lameenc  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise RecordingError(
            "MP3 recording needs the 'lameenc' package (pip install lameenc); "
            "use file_format='wav' without it"
        ) from exc
    return lameenc  # type: ignore[no-any-return, unused-ignore]


def _check_format(file_format: str) -> None:
    if file_format not in FORMATS:
        raise RecordingError(
            f"file_format must be one of {', '.join(FORMATS)}, got {file_format!r}"
        )
