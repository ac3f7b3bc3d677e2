"""Decode any audio file miniaudio knows (WAV, MP3, FLAC, Vorbis) to 8 kHz mono int16."""

from __future__ import annotations

import miniaudio  # type: ignore[import-untyped]
import numpy as np

from callplane.media.errors import AudioDecodeError
from callplane.media.pcm import SAMPLE_RATE, Pcm


def decode_audio(data: bytes) -> Pcm:
    """Decode ``data``, mixing down to mono and resampling to 8 kHz.

    Raises ``AudioDecodeError`` when the bytes are not a format miniaudio reads.
    """
    try:
        decoded = miniaudio.decode(
            data,
            output_format=miniaudio.SampleFormat.SIGNED16,
            nchannels=1,
            sample_rate=SAMPLE_RATE,
        )
    except miniaudio.MiniaudioError as exc:
        raise AudioDecodeError(f"not a WAV/MP3/FLAC/Vorbis file ({exc})") from exc
    return np.frombuffer(decoded.samples, dtype=np.int16).copy()


def read_only(pcm: Pcm) -> Pcm:
    """Mark ``pcm`` read-only, so cached audio shared between calls cannot be altered."""
    pcm.flags.writeable = False
    return pcm
