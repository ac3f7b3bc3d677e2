"""Media building blocks: 8 kHz mono int16 PCM in numpy arrays, 160 samples per 20 ms frame.

``pcm`` (frames, tones, beep), ``decode`` (any audio file -> 8 kHz mono),
``tts`` (espeak-ng behind a ``TtsEngine`` protocol, with a cache), ``fetch``
(``<Play>`` URLs with HTTP caching), ``recorder`` (``<Record>``),
``dtmf_detect`` (in-band DTMF, Goertzel) and ``mixer``. None of them touch
RTP or sockets: the call's media loop feeds them frames and takes frames out.
"""

from __future__ import annotations

from callplane.media.errors import (
    AudioDecodeError,
    FetchError,
    MediaError,
    RecordingError,
    TtsError,
)
from callplane.media.pcm import FRAME_SAMPLES, SAMPLE_RATE

__all__ = [
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "AudioDecodeError",
    "FetchError",
    "MediaError",
    "RecordingError",
    "TtsError",
]
