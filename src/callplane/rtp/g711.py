"""G.711 µ-law (PCMU) and A-law (PCMA) between int16 numpy arrays and bytes.

The segment encoding follows ITU-T G.711: µ-law works on 14-bit magnitudes with
a bias of 33, A-law on 13-bit magnitudes. Encoding indexes a 65536-entry table
by the sample's bit pattern; decoding indexes a 256-entry table. Both tables are
built once, at import, with numpy.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]

_ULAW_SEGMENT_ENDS: Final = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS: Final = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_BIAS: Final = 0x21
_ULAW_CLIP: Final = 8159


def _all_samples() -> npt.NDArray[np.int64]:
    """Every int16 value, ordered by its unsigned bit pattern (the table index)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int64)


def _build_ulaw_encoder() -> npt.NDArray[np.uint8]:
    pcm = _all_samples() >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + _ULAW_BIAS
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude)
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_encoder() -> npt.NDArray[np.uint8]:
    pcm = _all_samples() >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude)
    shift = np.maximum(segment, 1)
    code = (segment << 4) | ((magnitude >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decoder() -> Pcm:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _build_alaw_decoder() -> Pcm:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code & 0x70) >> 4
    mantissa = (code & 0x0F) << 4
    magnitude = np.where(
        segment == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(segment - 1, 0)
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW_ENCODE: Final = _build_ulaw_encoder()
ALAW_ENCODE: Final = _build_alaw_encoder()
ULAW_DECODE: Final = _build_ulaw_decoder()
ALAW_DECODE: Final = _build_alaw_decoder()


# ``take`` rather than fancy indexing: the same lookup, a third less time on a 20 ms frame


def ulaw_encode(pcm: Pcm) -> bytes:
    return ULAW_ENCODE.take(pcm.view(np.uint16)).tobytes()


def alaw_encode(pcm: Pcm) -> bytes:
    return ALAW_ENCODE.take(pcm.view(np.uint16)).tobytes()


def ulaw_decode(data: bytes) -> Pcm:
    return ULAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))


def alaw_decode(data: bytes) -> Pcm:
    return ALAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))


PCMU: Final = 0
PCMA: Final = 8
ENCODERS: Final = {PCMU: ulaw_encode, PCMA: alaw_encode}
DECODERS: Final = {PCMU: ulaw_decode, PCMA: alaw_decode}

# A frame on its way to a leg: int16 PCM, or ``bytes`` already in µ-law (audio an agent
# sent as PCMU), which goes to a PCMU leg as it is and is decoded only where PCM is needed.
Frame = Pcm | bytes
ULAW_SILENCE: Final = 0xFF  # the µ-law code of 0


def pcm_of(frame: Frame) -> Pcm:
    """``frame`` as PCM (µ-law bytes decoded)."""
    return ulaw_decode(frame) if isinstance(frame, bytes) else frame
