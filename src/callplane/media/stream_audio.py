"""Audio between a call and a voice agent's WebSocket (``<Stream>``), as PCM.

* :func:`encode` / :func:`decode`: the call's 8 kHz frames <-> the stream's
  ``contentType`` (``audio/x-mulaw`` 8 kHz, ``audio/x-l16`` 8 or 16 kHz,
  little-endian as Plivo and pipecat send it).
* Resampling 8 <-> 16 kHz: up by linear interpolation (the sample between two
  8 kHz samples is their mean), down by a 2-tap average then decimation. Both
  keep one sample of state so 20 ms chunks join without clicks. Good enough for
  speech (the 2-tap average is a gentle low-pass: -3 dB at 4 kHz, which the
  8 kHz call cuts anyway).
* :class:`AgentAudio`: what the agent sent, queued and played at the call's
  pace: an endless frame iterator (silence when empty) for ``CallMedia``, marks
  (``mark``/``checkpoint``) answered once the audio queued before them has been
  pulled for sending, ``clear`` empties it at once. Bounded: over
  ``max_frames`` the oldest audio is dropped and counted. A µ-law stream's
  queue keeps the agent's µ-law bytes as they came (``mulaw=True``): a PCMU leg
  sends them on untouched, and whoever needs PCM decodes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from callplane.media.pcm import FRAME_SAMPLES, Pcm
from callplane.rtp.g711 import ULAW_SILENCE, Frame, ulaw_decode, ulaw_encode

MULAW = "audio/x-mulaw"
L16 = "audio/x-l16"
MAX_QUEUED_FRAMES = 3000  # 60 s of agent audio waiting to be played


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: str  # MULAW or L16
    rate: int  # 8000 or 16000 (mu-law: 8000 only)

    @classmethod
    def parse(cls, content_type: str) -> AudioFormat:
        """``audio/x-l16;rate=16000`` -> AudioFormat; ValueError names what is allowed."""
        encoding, _, params = content_type.replace(" ", "").partition(";")
        rate = 8000
        if params:
            name, _, value = params.partition("=")
            if name != "rate" or not value.isdigit():
                raise ValueError(f"bad content type {content_type!r}")
            rate = int(value)
        fmt = cls(encoding, rate)
        fmt.check()
        return fmt

    def check(self) -> None:
        if (self.encoding, self.rate) not in ((MULAW, 8000), (L16, 8000), (L16, 16000)):
            raise ValueError(
                f"unsupported audio {self.encoding} at {self.rate} Hz; allowed: "
                "audio/x-mulaw 8000, audio/x-l16 8000 or 16000"
            )

    def __str__(self) -> str:
        return f"{self.encoding};rate={self.rate}"


class Upsampler:
    """8 kHz -> 16 kHz by linear interpolation, continuous across chunks."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, pcm: Pcm) -> Pcm:
        samples = pcm.astype(np.float32)
        before = np.concatenate(([self._last], samples[:-1]))
        if len(samples):
            self._last = float(samples[-1])
        out = np.empty(2 * len(samples), np.float32)
        out[0::2] = (before + samples) / 2
        out[1::2] = samples
        return out.astype(np.int16)


class Downsampler:
    """16 kHz -> 8 kHz: average each sample with the one before, keep every second."""

    def __init__(self) -> None:
        self._carry: Pcm = np.zeros(0, np.int16)
        self._last = 0.0

    def __call__(self, pcm: Pcm) -> Pcm:
        samples = np.concatenate((self._carry, pcm)).astype(np.float32)
        usable = len(samples) - len(samples) % 2
        self._carry = samples[usable:].astype(np.int16)
        samples = samples[:usable]
        if not usable:
            return np.zeros(0, np.int16)
        before = np.concatenate(([self._last], samples[:-1]))
        self._last = float(samples[-1])
        return ((samples + before)[1::2] / 2).astype(np.int16)


def encode(frame: Pcm, fmt: AudioFormat, up: Upsampler | None = None) -> bytes:
    """One 8 kHz frame of the call in the stream's format."""
    if fmt.encoding == MULAW:
        return ulaw_encode(frame)
    if fmt.rate == 16000:
        frame = (up or Upsampler())(frame)
    return frame.astype("<i2").tobytes()


def decode(payload: bytes, fmt: AudioFormat, down: Downsampler | None = None) -> Pcm:
    """The agent's audio as 8 kHz PCM; ValueError for a payload of odd length (L16)."""
    if fmt.encoding == MULAW:
        return ulaw_decode(payload)
    if len(payload) % 2:
        raise ValueError("L16 audio must be a whole number of 16-bit samples")
    pcm = np.frombuffer(payload, "<i2").astype(np.int16)
    return (down or Downsampler())(pcm) if fmt.rate == 16000 else pcm


class _Mark:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


SILENT_FRAME = np.zeros(FRAME_SAMPLES, np.int16)
SILENT_FRAME.flags.writeable = False
SILENT_MULAW = bytes([ULAW_SILENCE]) * FRAME_SAMPLES


class AgentAudio:
    """The agent's audio waiting to be played, with its marks, as an endless frame source."""

    def __init__(
        self,
        on_mark: Callable[[str], None],
        max_frames: int = MAX_QUEUED_FRAMES,
        *,
        mulaw: bool = False,
    ) -> None:
        self.on_mark = on_mark
        self.max_frames = max_frames
        self.mulaw = mulaw  # frames are µ-law bytes (push them), else 8 kHz PCM
        self._items: deque[Frame | _Mark] = deque()
        self._frames = 0
        self._partial: Frame = b"" if mulaw else np.zeros(0, np.int16)
        self._silence: Frame = SILENT_MULAW if mulaw else SILENT_FRAME
        self.dropped_frames = 0
        self.played_frames = 0

    @property
    def queued_frames(self) -> int:
        return self._frames

    def push(self, audio: Frame) -> None:
        """Queue 8 kHz audio (µ-law bytes for a ``mulaw`` queue, else PCM); a partial
        frame waits for the next push (or a mark)."""
        if isinstance(audio, bytes) != self.mulaw:
            raise TypeError(f"this queue takes {'µ-law bytes' if self.mulaw else 'PCM'}")
        samples = _joined(self._partial, audio) if len(self._partial) else audio
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            self._items.append(samples[start : start + FRAME_SAMPLES])
            self._frames += 1
        rest = samples[whole:]
        self._partial = rest if isinstance(rest, bytes) else rest.copy()
        while self._frames > self.max_frames:
            self._drop_oldest()

    def mark(self, name: str) -> None:
        """Answer ``name`` once everything queued so far has been played."""
        self._flush_partial()
        self._items.append(_Mark(name))

    def clear(self) -> list[str]:
        """Drop all queued audio now; the marks that were waiting are returned (answered)."""
        names = [item.name for item in self._items if isinstance(item, _Mark)]
        self._items.clear()
        self._frames = 0
        self._partial = self._partial[:0]
        return names

    def _flush_partial(self) -> None:
        partial = self._partial
        if len(partial):
            padded: Frame
            if isinstance(partial, bytes):
                padded = partial + SILENT_MULAW[len(partial) :]
            else:
                padded = np.zeros(FRAME_SAMPLES, np.int16)
                padded[: len(partial)] = partial
            self._partial = partial[:0]
            self._items.append(padded)
            self._frames += 1

    def _drop_oldest(self) -> None:
        for index, item in enumerate(self._items):
            if not isinstance(item, _Mark):
                del self._items[index]
                self._frames -= 1
                self.dropped_frames += 1
                return

    def next_frame(self) -> Frame:
        """The frame to send this tick (silence when nothing waits); answers due marks."""
        while self._items:
            item = self._items.popleft()
            if isinstance(item, _Mark):
                self.on_mark(item.name)
                continue
            self._frames -= 1
            self.played_frames += 1
            return item
        return self._silence

    def frames(self) -> Iterator[Frame]:
        """Endless: for ``CallMedia.play_frames`` while the stream lasts."""
        next_frame = self.next_frame
        while True:
            yield next_frame()


def _joined(first: Frame, second: Frame) -> Frame:
    if isinstance(first, bytes) and isinstance(second, bytes):
        return first + second
    assert not isinstance(first, bytes) and not isinstance(second, bytes)
    return np.concatenate((first, second))
