"""Test tones: write one as an 8 kHz mono WAV, read a WAV back, find the loudest frequency."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def write_tone(path: Path, hz: float, seconds: float, amplitude: int = 6000) -> Path:
    t = np.arange(int(8000 * seconds)) / 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes())
    return path


def wav_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.float64)


def peak_hz(pcm: np.ndarray) -> float:
    """The strongest frequency of 8 kHz ``pcm``, leaving out DC."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * 8000 / len(pcm))


def wav_peak_hz(path: Path) -> float:
    return peak_hz(wav_pcm(path))


def seconds_of(pcm: np.ndarray, hz: float) -> float:
    """How long ``hz`` is the loudest frequency in 8 kHz ``pcm`` (100 ms windows, not quiet)."""
    windows = [pcm[i : i + 800] for i in range(0, len(pcm) - 800, 800)]
    loud = [w for w in windows if np.sqrt(np.mean(w**2)) > 300]
    return 0.1 * sum(1 for w in loud if abs(peak_hz(w) - hz) <= 20)


def onset_seconds(pcm: np.ndarray, hz: float) -> float | None:
    """When ``hz`` first becomes the loudest frequency of 8 kHz ``pcm`` (40 ms windows)."""
    for start in range(0, len(pcm) - 320, 320):
        window = pcm[start : start + 320]
        if np.sqrt(np.mean(window**2)) > 300 and abs(peak_hz(window) - hz) <= 30:
            return start / 8000
    return None
