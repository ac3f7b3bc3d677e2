"""In-band DTMF detection (Goertzel), for callers whose digits arrive as tones, not RFC 4733.

Audio is cut into blocks of 102 samples (12.75 ms, the block size spandsp and
Asterisk use) regardless of frame size. In each block the Goertzel filter
measures the eight DTMF frequencies (Goertzel's
|X(f)|², evaluated as one matrix product); the block holds digit ``d`` when:

* both strongest tones are at least ``min_level_dbfs`` (default -33 dBFS,
  about -30 dBm0, the ITU-T Q.24 acceptance floor);
* twist is within limits: the low (row) tone may exceed the high (column)
  tone by up to 8 dB ("normal twist"), the high tone the low one by up to
  4 dB ("reverse twist");
* each winner beats the other tones of its group by 8 dB (relative peak);
* the two tones hold at least 70 % of the block's energy, which rejects
  speech and music, whose energy is spread out.

A key press is reported once, when two consecutive blocks agree on a digit
(so a tone must last about 26 ms or more; Q.24 tones last at least 40 ms); it
is released after two blocks without that digit, so a held key is one digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from callplane.media.pcm import FULL_SCALE, SAMPLE_RATE, Pcm

BLOCK = 102
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
HITS_TO_PRESS = 2
MISSES_TO_RELEASE = 2

_FREQS = np.array(ROWS + COLS)
_BASIS = np.exp(-2j * np.pi * np.outer(np.arange(BLOCK), _FREQS) / SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class DtmfThresholds:
    min_level_dbfs: float = -33.0
    normal_twist_db: float = 8.0
    reverse_twist_db: float = 4.0
    relative_peak_db: float = 8.0
    min_tone_energy_fraction: float = 0.7


def block_power(block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Power at the eight DTMF frequencies of a BLOCK-sample block, scaled so a sine of
    amplitude A gives about A**2: Goertzel's, as one product with a precomputed basis.

    Goertzel's output magnitude is |sum x[n] e^(-j w n)|; numpy evaluates that
    for all eight frequencies at once far faster than a Python-level recursion
    (the test checks it against the textbook recursion).
    """
    return np.abs(block @ _BASIS) ** 2 * (2.0 / BLOCK) ** 2


def classify(block: npt.NDArray[np.float64], limits: DtmfThresholds) -> str | None:
    """The digit ``block`` (BLOCK float samples, full scale = 1.0) holds, or ``None``."""
    power = block_power(block)
    rows, cols = power[:4], power[4:]
    row, col = int(np.argmax(rows)), int(np.argmax(cols))
    checks = (
        _loud_enough(rows[row], cols[col], limits),
        _twist_ok(rows[row], cols[col], limits),
        _peaks_stand_out(rows, row, limits) and _peaks_stand_out(cols, col, limits),
        _dominates(rows[row] + cols[col], block, limits),
    )
    return KEYS[row][col] if all(checks) else None


def _power_ratio(db: float) -> float:
    return float(10 ** (db / 10))


def _loud_enough(row: float, col: float, limits: DtmfThresholds) -> bool:
    floor = 10 ** (limits.min_level_dbfs / 10)  # a sine's A**2 at that level, full scale 1.0
    return row >= floor and col >= floor


def _twist_ok(row: float, col: float, limits: DtmfThresholds) -> bool:
    low_louder_ok = row <= col * _power_ratio(limits.normal_twist_db)
    high_louder_ok = col <= row * _power_ratio(limits.reverse_twist_db)
    return low_louder_ok and high_louder_ok


def _peaks_stand_out(powers: npt.NDArray[np.float64], best: int, limits: DtmfThresholds) -> bool:
    others = np.delete(powers, best)
    return bool(np.all(others * _power_ratio(limits.relative_peak_db) <= powers[best]))


def _dominates(tone_power: float, block: npt.NDArray[np.float64], limits: DtmfThresholds) -> bool:
    """A sine of amplitude A carries A**2 / 2 per sample: compare with the block's mean square."""
    total = float(np.mean(block * block))
    return total > 0 and tone_power / 2 >= limits.min_tone_energy_fraction * total


@dataclass
class DtmfDetector:
    """Feed 8 kHz int16 frames of any size; get each key press once, in order."""

    thresholds: DtmfThresholds = field(default_factory=DtmfThresholds)
    _pending: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    _candidate: str | None = None
    _hits: int = 0
    _misses: int = 0
    _pressed: str | None = None

    def feed(self, frame: Pcm) -> list[str]:
        """Digits whose press completed within ``frame``."""
        samples = np.concatenate([self._pending, np.asarray(frame, dtype=np.float64) / FULL_SCALE])
        digits = []
        usable = len(samples) - len(samples) % BLOCK
        for start in range(0, usable, BLOCK):
            digit = self._step(classify(samples[start : start + BLOCK], self.thresholds))
            if digit is not None:
                digits.append(digit)
        self._pending = samples[usable:]
        return digits

    def _step(self, digit: str | None) -> str | None:
        """Debounce: press after HITS_TO_PRESS equal blocks, release after MISSES_TO_RELEASE."""
        same = digit is not None and digit == self._candidate
        self._hits = self._hits + 1 if same else int(digit is not None)
        self._candidate = digit
        if self._pressed is not None:
            self._misses = 0 if digit == self._pressed else self._misses + 1
            if self._misses >= MISSES_TO_RELEASE:
                self._pressed = None
        if self._pressed is None and digit is not None and self._hits >= HITS_TO_PRESS:
            self._pressed, self._misses = digit, 0
            return digit
        return None
