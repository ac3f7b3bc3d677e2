"""Mixing 8 kHz int16 tracks: both directions of a call for ``recordSession``, conferences."""

from __future__ import annotations

import numpy as np

from callplane.media.pcm import Pcm


def mix(a: Pcm, b: Pcm) -> Pcm:
    """Sum ``a`` and ``b`` sample by sample, saturating at the int16 limits.

    The shorter track is treated as followed by silence.
    """
    return mix_many(a, b)


def mix_many(*tracks: Pcm) -> Pcm:
    """Saturating sum of any number of tracks (the conference case)."""
    if not tracks:
        return np.zeros(0, dtype=np.int16)
    total = np.zeros(max(len(t) for t in tracks), dtype=np.int32)
    for track in tracks:
        total[: len(track)] += track
    return np.clip(total, -32768, 32767).astype(np.int16)


def interleave(left: Pcm, right: Pcm) -> Pcm:
    """Two mono tracks as one stereo stream (L R L R ...), for two-channel recordings."""
    length = max(len(left), len(right))
    stereo = np.zeros((length, 2), dtype=np.int16)
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    return stereo.reshape(-1)
