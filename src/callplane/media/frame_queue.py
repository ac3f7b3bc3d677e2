"""One direction's audio between a source and a paced sink: push decoded audio, pull 20 ms."""

from __future__ import annotations

from typing import Final

import numpy as np

from callplane.media.pcm import FRAME_SAMPLES, Pcm

DEFAULT_DEPTH: Final = 2
SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENCE.flags.writeable = False  # shared by every underrun: nobody may scribble on it


class FrameQueue:
    """One direction's jitter-tolerant FIFO of samples: push decoded audio, pull 20 ms.

    Holds at most ``depth`` frames (plus one incoming packet beyond 20 ms, so a
    30 ms ptime does not overflow every time). Samples, not packets, are queued,
    so any ptime is re-framed into 160-sample frames.
    """

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1 frame, got {depth}")
        self.depth = depth
        self._samples: Pcm = np.zeros(0, dtype=np.int16)
        self._largest = FRAME_SAMPLES
        self.received = 0
        self.relayed = 0
        self.underruns = 0
        self.dropped_samples = 0

    @property
    def capacity(self) -> int:
        return self.depth * FRAME_SAMPLES + self._largest - FRAME_SAMPLES

    def push(self, pcm: Pcm) -> None:
        self.received += 1
        self._largest = max(self._largest, len(pcm))
        samples = np.concatenate([self._samples, pcm])
        excess = len(samples) - self.capacity
        if excess > 0:
            self.dropped_samples += excess
            samples = samples[excess:]
        self._samples = samples

    def pull(self) -> Pcm:
        """The next frame; silence (or the rest, zero-padded) on underrun."""
        if len(self._samples) >= FRAME_SAMPLES:
            frame, self._samples = self._samples[:FRAME_SAMPLES], self._samples[FRAME_SAMPLES:]
            self.relayed += 1
            return frame
        self.underruns += 1
        if not len(self._samples):
            return SILENCE
        frame = np.concatenate([self._samples, SILENCE[len(self._samples) :]])
        self._samples = self._samples[:0]
        return frame

    def clear(self) -> None:
        self._samples = self._samples[:0]
