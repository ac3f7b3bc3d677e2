from __future__ import annotations

import itertools

import numpy as np
import pytest

from callplane.media import pcm
from callplane.media.mixer import interleave, mix, mix_many
from tests.media.helpers import dbfs, dominant_hz


def test_frames_pads_the_last_frame_with_zeros() -> None:
    audio = np.arange(1, 401, dtype=np.int16)
    chunks = list(pcm.frames(audio))
    assert [len(c) for c in chunks] == [160, 160, 160]
    assert chunks[2][79] == 400
    assert not chunks[2][80:].any()


def test_frames_of_custom_size_and_empty_input() -> None:
    assert [len(c) for c in pcm.frames(np.ones(10, dtype=np.int16), size=4)] == [4, 4, 4]
    assert list(pcm.frames(np.zeros(0, dtype=np.int16))) == []


def test_silence_and_duration() -> None:
    quiet = pcm.silence(1.5)
    assert quiet.dtype == np.int16
    assert len(quiet) == 12000
    assert pcm.duration_ms(quiet) == 1500
    assert pcm.rms(quiet) == 0.0
    assert dbfs(quiet) == float("-inf")


def test_tone_frequency_and_level() -> None:
    sine = pcm.tone(440, 1.0, amplitude=0.5)
    assert dominant_hz(sine) == pytest.approx(440, abs=2)
    assert pcm.rms(sine) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.01)
    assert dbfs(sine) == pytest.approx(-6.02, abs=0.05)


def test_tone_pair_holds_both_frequencies() -> None:
    pair = pcm.tone((697, 1209), 0.5, amplitude=0.3)
    spectrum = np.abs(np.fft.rfft(pair))
    peaks = sorted(np.argsort(spectrum)[-2:] * 8000 / len(pair))
    assert peaks == pytest.approx([697, 1209], abs=2)


def test_beep_is_plivos_700hz_300ms_then_200ms_silence() -> None:
    sound = pcm.beep()
    assert pcm.duration_ms(sound) == 500
    on, off = sound[:2400], sound[2400:]
    assert dominant_hz(on) == pytest.approx(700, abs=4)
    assert dbfs(on[200:-200]) == pytest.approx(-7.0, abs=0.2)
    assert not off.any()
    assert abs(int(sound[0])) < 50


def test_loop_counts_and_forever() -> None:
    one = pcm.tone(440, 0.02)
    assert len(list(pcm.loop(one, 3))) == 3
    forever = list(itertools.islice(pcm.loop(one, 0), 50))
    assert len(forever) == 50
    with pytest.raises(ValueError):
        list(pcm.loop(one, -1))


def test_rms_of_empty_frame_is_zero() -> None:
    assert pcm.rms(np.zeros(0, dtype=np.int16)) == 0.0


def test_to_int16_saturates() -> None:
    assert list(pcm.to_int16(np.array([2.0, -2.0, 0.5]))) == [32767, -32768, 16384]


def test_mix_saturates_and_pads() -> None:
    a = np.array([30000, -30000, 100], dtype=np.int16)
    b = np.array([10000, -10000], dtype=np.int16)
    assert list(mix(a, b)) == [32767, -32768, 100]
    assert mix(a, b).dtype == np.int16
    assert len(mix_many()) == 0


def test_interleave_makes_stereo() -> None:
    left = np.array([1, 2, 3], dtype=np.int16)
    right = np.array([-1, -2], dtype=np.int16)
    assert list(interleave(left, right)) == [1, -1, 2, -2, 3, 0]
