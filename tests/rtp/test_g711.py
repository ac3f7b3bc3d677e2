from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pytest

from callplane.rtp import g711


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    return audioop


ALL = np.arange(-32768, 32768, dtype=np.int16)
CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop(audioop: ModuleType) -> None:
    assert g711.ulaw_encode(ALL) == audioop.lin2ulaw(ALL.tobytes(), 2)


def test_alaw_encode_matches_audioop(audioop: ModuleType) -> None:
    assert g711.alaw_encode(ALL) == audioop.lin2alaw(ALL.tobytes(), 2)


def test_ulaw_decode_matches_audioop(audioop: ModuleType) -> None:
    assert g711.ulaw_decode(CODES).tobytes() == audioop.ulaw2lin(CODES, 2)


def test_alaw_decode_matches_audioop(audioop: ModuleType) -> None:
    assert g711.alaw_decode(CODES).tobytes() == audioop.alaw2lin(CODES, 2)


@pytest.mark.parametrize(
    ("sample", "ulaw", "alaw"),
    [
        (0, 0xFF, 0xD5),
        (-1, 0x7E, 0x55),
        (-4, 0x7E, 0x55),
        (32767, 0x80, 0xAA),
        (-32768, 0x00, 0x2A),
    ],
)
def test_known_values(sample: int, ulaw: int, alaw: int) -> None:
    pcm = np.array([sample], dtype=np.int16)
    assert g711.ulaw_encode(pcm) == bytes([ulaw])
    assert g711.alaw_encode(pcm) == bytes([alaw])


@pytest.mark.parametrize("pt", [g711.PCMU, g711.PCMA])
def test_decode_encode_is_stable(pt: int) -> None:
    decoded = g711.DECODERS[pt](CODES)
    assert np.array_equal(g711.DECODERS[pt](g711.ENCODERS[pt](decoded)), decoded)


def test_frame_shapes() -> None:
    frame = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    encoded = g711.ulaw_encode(frame)
    assert len(encoded) == 160
    decoded = g711.ulaw_decode(encoded)
    assert decoded.dtype == np.int16
    assert np.max(np.abs(decoded.astype(np.int32) - frame)) < 8000 * 0.04
