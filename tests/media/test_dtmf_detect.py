from __future__ import annotations

import numpy as np
import pytest

from callplane.media.dtmf_detect import (
    BLOCK,
    COLS,
    KEYS,
    ROWS,
    DtmfDetector,
    block_power,
)
from callplane.media.pcm import Pcm, frames, silence, to_int16
from callplane.media.tts import EspeakTts

DIGITS = "".join("".join(row) for row in KEYS)


def key_tone(digit: str, seconds: float, row_level: float = 0.25, col_level: float = 0.25) -> Pcm:
    row = next(i for i, keys in enumerate(KEYS) if digit in keys)
    col = KEYS[row].index(digit)
    t = np.arange(round(seconds * 8000)) / 8000
    wave = row_level * np.sin(2 * np.pi * ROWS[row] * t)
    wave += col_level * np.sin(2 * np.pi * COLS[col] * t + 1.0)
    return to_int16(wave)


def with_noise(pcm: Pcm, snr_db: float, seed: int = 7) -> Pcm:
    rng = np.random.default_rng(seed)
    power = float(np.mean(pcm.astype(np.float64) ** 2)) or 1.0
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(pcm))
    return np.clip(pcm + noise, -32768, 32767).astype(np.int16)


def detect(pcm: Pcm, size: int = 160) -> str:
    detector = DtmfDetector()
    return "".join(d for frame in frames(pcm, size) for d in detector.feed(frame))


def sequence(digits: str, on: float = 0.07, off: float = 0.06) -> Pcm:
    parts = [silence(0.1)]
    for digit in digits:
        parts += [key_tone(digit, on), silence(off)]
    return np.concatenate(parts)


def test_all_sixteen_digits_with_noise_once_each() -> None:
    signal = sequence(DIGITS).astype(np.float64)
    noise = np.random.default_rng(1).normal(0, 1500, len(signal))  # ~15 dB below the tones
    heard = detect(np.clip(signal + noise, -32768, 32767).astype(np.int16))
    assert heard == DIGITS


@pytest.mark.parametrize("digit", list(DIGITS))
def test_each_digit_at_15db_snr(digit: str) -> None:
    pcm = np.concatenate([silence(0.05), with_noise(key_tone(digit, 0.1), 15), silence(0.05)])
    assert detect(pcm) == digit


def test_a_held_key_is_one_digit() -> None:
    assert detect(key_tone("5", 1.5)) == "5"


def test_repeated_key_with_gaps_is_repeated() -> None:
    assert detect(sequence("1111")) == "1111"


def test_a_40ms_tone_is_detected() -> None:
    assert detect(sequence("9", on=0.04)) == "9"


def test_frame_size_does_not_matter() -> None:
    pcm = sequence("147*0#")
    assert detect(pcm, size=37) == detect(pcm, size=160) == detect(pcm, size=1000) == "147*0#"


def test_silence_and_noise_give_nothing() -> None:
    assert detect(silence(3)) == ""
    rng = np.random.default_rng(3)
    assert detect(rng.normal(0, 3000, 24000).astype(np.int16)) == ""


def test_too_much_twist_is_rejected() -> None:
    assert detect(key_tone("5", 0.2, row_level=0.4, col_level=0.1)) == ""  # 12 dB normal twist
    assert detect(key_tone("5", 0.2, row_level=0.1, col_level=0.25)) == ""  # 8 dB reverse
    assert detect(key_tone("5", 0.2, row_level=0.3, col_level=0.15)) == "5"  # 6 dB normal


def test_too_quiet_is_rejected() -> None:
    assert detect(key_tone("5", 0.2, row_level=0.01, col_level=0.01)) == ""  # -40 dBFS
    assert detect(key_tone("5", 0.2, row_level=0.03, col_level=0.03)) == "5"  # -30 dBFS


def test_single_tone_is_not_a_digit() -> None:
    assert detect(key_tone("5", 0.2, row_level=0.3, col_level=0.0)) == ""


@pytest.mark.parametrize(
    ("text", "voice", "language"),
    [
        ("Please enter your account number followed by the pound key.", "WOMAN", "en-US"),
        ("Thank you for calling. All of our agents are busy right now.", "MAN", "en-GB"),
        ("Bonjour, merci de votre appel, veuillez patienter.", "WOMAN", "fr-FR"),
        ("Eins zwei drei vier fuenf sechs sieben acht neun null.", "MAN", "de-DE"),
    ],
)
async def test_speech_gives_no_digits(text: str, voice: str, language: str) -> None:
    speech = await EspeakTts().synthesize(text, voice, language)
    assert detect(speech) == ""


def goertzel_power(block: np.ndarray) -> np.ndarray:
    """The textbook Goertzel recursion, one sample at a time, scaled like ``block_power``."""
    coeffs = 2.0 * np.cos(2.0 * np.pi * np.array(ROWS + COLS) / 8000)
    s1 = np.zeros(len(coeffs))
    s2 = np.zeros(len(coeffs))
    for sample in block:
        s1, s2 = sample + coeffs * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeffs * s1 * s2
    return power * (2.0 / len(block)) ** 2


def test_matrix_form_equals_the_goertzel_recursion() -> None:
    rng = np.random.default_rng(5)
    block = rng.normal(0, 0.2, BLOCK) + 0.3 * np.sin(2 * np.pi * 852 * np.arange(BLOCK) / 8000)
    assert np.allclose(block_power(block), goertzel_power(block))
