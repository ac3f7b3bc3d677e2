"""``<Record recordSession="true">``: both directions of the call, recorded in the background.

Frames the call sends are placed on a 20 ms grid by the time they leave;
frames it hears follow each other from the first one's arrival. At the end the
two tracks are mixed into one mono file, capped at ``max_length``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from callplane.media.mixer import mix
from callplane.media.pcm import FRAME_SAMPLES, SAMPLE_RATE
from callplane.media.recorder import write_audio

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


class SessionRecording:
    def __init__(
        self, path: Path, file_format: str, max_length: float, clock: Callable[[], float]
    ) -> None:
        self.path = path
        self.file_format = file_format
        self.max_frames = int(max_length / FRAME_SECONDS)
        self.clock = clock
        self.started = clock()
        self.ended: float | None = None
        self._sent: dict[int, np.ndarray] = {}
        self._heard: list[np.ndarray] = []
        self._heard_from: int | None = None

    def _tick(self) -> int:
        return round((self.clock() - self.started) / FRAME_SECONDS)

    def sent(self, frame: np.ndarray) -> None:
        tick = self._tick()
        if tick < self.max_frames:
            self._sent[tick] = frame

    def heard(self, frame: np.ndarray) -> None:
        if self._heard_from is None:
            self._heard_from = self._tick()
        if self._heard_from + len(self._heard) < self.max_frames:
            self._heard.append(frame)

    def stop(self) -> None:
        if self.ended is None:
            self.ended = self.clock()

    @property
    def duration_ms(self) -> int:
        end = self.ended if self.ended is not None else self.clock()
        return min(int((end - self.started) * 1000), int(self.max_frames * FRAME_SECONDS * 1000))

    def audio(self) -> np.ndarray:
        total = max(1, round(self.duration_ms / 1000 / FRAME_SECONDS))
        sent = np.zeros(total * FRAME_SAMPLES, np.int16)
        for tick, frame in self._sent.items():
            if tick < total:
                sent[tick * FRAME_SAMPLES : (tick + 1) * FRAME_SAMPLES] = frame[:FRAME_SAMPLES]
        heard = np.zeros_like(sent)
        if self._heard:
            start = (self._heard_from or 0) * FRAME_SAMPLES
            track = np.concatenate(self._heard)[: max(0, len(heard) - start)]
            heard[start : start + len(track)] = track
        return mix(sent, heard)

    def write(self) -> None:
        """Mix and write the file (blocking: run it in a thread)."""
        write_audio(self.path, self.audio(), self.file_format)
