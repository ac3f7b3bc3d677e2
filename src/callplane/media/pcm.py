"""PCM helpers for 8 kHz mono signed 16-bit audio held in numpy arrays.

Every array in ``callplane.media`` is ``np.int16``, 8000 samples a second, one
channel; a frame is 160 samples (20 ms), the G.711 packetisation time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
FRAME_MS = 20
FULL_SCALE = 32767

Pcm = npt.NDArray[np.int16]

# The beep Plivo plays before <Record> and <GetDigits playBeep>: FreeSWITCH's
# ``tone_stream://%(300,200,700)``, i.e. 300 ms of 700 Hz then 200 ms of
# silence. tone_stream's default level is -7 dBFS; we use the same.
BEEP_HZ = 700.0
BEEP_ON_S = 0.3
BEEP_OFF_S = 0.2
BEEP_DBFS = -7.0
_RAMP_S = 0.005


def frames(pcm: Pcm, size: int = FRAME_SAMPLES) -> Iterator[Pcm]:
    """Yield ``pcm`` in frames of ``size`` samples; the last one is zero-padded."""
    for start in range(0, len(pcm), size):
        chunk = pcm[start : start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros(size - len(chunk), dtype=np.int16)])
        yield chunk


def silence(seconds: float) -> Pcm:
    """``seconds`` of digital silence."""
    return np.zeros(_samples(seconds), dtype=np.int16)


def tone(freq: float | tuple[float, ...], seconds: float, amplitude: float = 0.3) -> Pcm:
    """A sine (or the sum of several, e.g. a DTMF pair) at ``amplitude`` of full scale each."""
    freqs = freq if isinstance(freq, tuple) else (freq,)
    t = np.arange(_samples(seconds)) / SAMPLE_RATE
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return to_int16(np.asarray(wave) * amplitude)


def beep() -> Pcm:
    """Plivo's record beep: 300 ms of 700 Hz at -7 dBFS, 5 ms ramps, then 200 ms of silence."""
    on = tone(BEEP_HZ, BEEP_ON_S, amplitude=10 ** (BEEP_DBFS / 20)).astype(np.float64)
    ramp = np.linspace(0.0, 1.0, _samples(_RAMP_S))
    on[: len(ramp)] *= ramp
    on[len(on) - len(ramp) :] *= ramp[::-1]
    return np.concatenate([on.astype(np.int16), silence(BEEP_OFF_S)])


def loop(pcm: Pcm, n: int) -> Iterator[Pcm]:
    """Yield ``pcm`` ``n`` times; ``n == 0`` repeats forever (``loop="0"`` in the markup)."""
    if n < 0:
        raise ValueError(f"loop count must be >= 0, got {n}")
    count = 0
    while n == 0 or count < n:
        yield pcm
        count += 1


def rms(frame: Pcm) -> float:
    """Root mean square of ``frame`` in sample units (0 .. 32767); 0.0 for an empty frame."""
    if len(frame) == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))


def duration_ms(pcm: Pcm) -> int:
    """Duration of ``pcm`` in whole milliseconds."""
    return len(pcm) * 1000 // SAMPLE_RATE


def to_int16(samples: npt.NDArray[np.floating]) -> Pcm:
    """Float samples in -1.0 .. 1.0 to int16, saturating instead of wrapping."""
    scaled: npt.NDArray[np.float64] = np.rint(np.asarray(samples, dtype=np.float64) * FULL_SCALE)
    return np.clip(scaled, -32768, FULL_SCALE).astype(np.int16)


def _samples(seconds: float) -> int:
    if seconds < 0:
        raise ValueError(f"duration must be >= 0, got {seconds}")
    return round(seconds * SAMPLE_RATE)
