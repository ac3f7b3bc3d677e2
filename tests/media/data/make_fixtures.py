"""Regenerate ``tone_1000hz_16k.mp3`` (needs ``lameenc``).

Run ``python tests/media/data/make_fixtures.py``.

1 s of a 1000 Hz sine at 16 kHz mono, 32 kbit/s, with a 0.1 s fade in and out.
Committed so the MP3 fetch test runs without an encoder installed.
"""

from __future__ import annotations

from pathlib import Path

import lameenc  # type: ignore[import-not-found, unused-ignore]
import numpy as np

RATE = 16000


def tone_mp3() -> bytes:
    t = np.arange(RATE) / RATE
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.1)
    pcm = (0.5 * 32767 * envelope * np.sin(2 * np.pi * 1000 * t)).astype("<i2")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(1)
    encoder.set_quality(2)
    return bytes(encoder.encode(pcm.tobytes())) + bytes(encoder.flush())


if __name__ == "__main__":
    Path(__file__).with_name("tone_1000hz_16k.mp3").write_bytes(tone_mp3())
