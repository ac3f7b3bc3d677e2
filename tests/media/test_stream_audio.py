"""Agent audio for <Stream>: codecs, 8 <-> 16 kHz resampling, the bounded queue and its marks."""

from __future__ import annotations

import numpy as np
import pytest

from callplane.media.pcm import FRAME_SAMPLES, frames, tone
from callplane.media.stream_audio import (
    AgentAudio,
    AudioFormat,
    Downsampler,
    Upsampler,
    decode,
    encode,
)
from tests.media.helpers import dominant_hz

L16_16K = AudioFormat.parse("audio/x-l16;rate=16000")


def test_content_types_parse_and_bad_ones_say_what_is_allowed() -> None:
    assert AudioFormat.parse("audio/x-mulaw;rate=8000") == AudioFormat("audio/x-mulaw", 8000)
    assert AudioFormat.parse("audio/x-l16") == AudioFormat("audio/x-l16", 8000)
    for bad in ("audio/x-mulaw;rate=16000", "audio/x-l16;rate=44100", "audio/opus", "x;y=1"):
        with pytest.raises(ValueError, match=r"allowed|bad content type"):
            AudioFormat.parse(bad)


@pytest.mark.parametrize("hz", [300, 1000, 3000])
def test_a_tone_keeps_its_frequency_up_to_16k_and_back(hz: int) -> None:
    source = tone(hz, 1.0)
    up, down = Upsampler(), Downsampler()
    chunks = [np.frombuffer(encode(frame, L16_16K, up), "<i2") for frame in frames(source)]
    wide = np.concatenate(chunks)
    assert len(wide) == 2 * len(source)
    assert abs(dominant_hz(wide, 16000) - hz) <= 2

    back = np.concatenate([decode(c.astype("<i2").tobytes(), L16_16K, down) for c in chunks])
    assert len(back) == len(source)
    assert abs(dominant_hz(back) - hz) <= 2
    # continuous across 20 ms chunks (no clicks): the same as resampling it in one go
    np.testing.assert_array_equal(wide, Upsampler()(source))
    np.testing.assert_array_equal(back, Downsampler()(wide))


def test_odd_length_l16_is_refused() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        decode(b"\x00\x01\x02", L16_16K)


def test_queue_plays_frames_in_order_then_silence_and_answers_marks_after_their_audio() -> None:
    answered: list[tuple[str, int]] = []
    audio = AgentAudio(lambda name: answered.append((name, audio.played_frames)))
    audio.push(np.full(FRAME_SAMPLES * 2 + 40, 7, np.int16))  # 2 frames and a bit
    audio.mark("a")
    audio.push(np.full(FRAME_SAMPLES, 9, np.int16))
    audio.mark("b")

    pulled = [audio.next_frame() for _ in range(6)]

    assert [int(f[0]) for f in pulled] == [7, 7, 7, 9, 0, 0]
    assert int(pulled[2][39]) == 7 and int(pulled[2][40]) == 0  # the bit, padded before "a"
    assert answered == [("a", 3), ("b", 4)]


def test_queue_is_bounded_dropping_the_oldest_audio() -> None:
    audio = AgentAudio(lambda name: None, max_frames=5)
    for level in range(1, 9):
        audio.push(np.full(FRAME_SAMPLES, level, np.int16))

    assert audio.queued_frames == 5 and audio.dropped_frames == 3
    assert [int(audio.next_frame()[0]) for _ in range(5)] == [4, 5, 6, 7, 8]


def test_clear_empties_the_queue_at_once_and_returns_waiting_marks() -> None:
    answered: list[str] = []
    audio = AgentAudio(answered.append)
    audio.push(np.full(FRAME_SAMPLES * 50, 5, np.int16))
    audio.mark("late")
    audio.next_frame()

    assert audio.clear() == ["late"]
    assert not audio.next_frame().any() and audio.queued_frames == 0
    assert answered == []


def test_a_mulaw_queue_keeps_the_agents_bytes_and_pads_with_mulaw_silence() -> None:
    answered: list[str] = []
    audio = AgentAudio(answered.append, mulaw=True)
    sent = bytes(range(256)) + bytes(range(64))  # two frames exactly
    audio.push(sent[:100])
    audio.push(sent[100:])
    audio.push(b"\x7f" * 40)  # a bit of a third frame
    audio.mark("end")

    pulled = [audio.next_frame() for _ in range(4)]

    assert pulled[:2] == [sent[:FRAME_SAMPLES], sent[FRAME_SAMPLES:]]
    assert pulled[2] == b"\x7f" * 40 + b"\xff" * (FRAME_SAMPLES - 40)
    assert pulled[3] == b"\xff" * FRAME_SAMPLES and answered == ["end"]
    with pytest.raises(TypeError, match="bytes"):
        audio.push(np.zeros(FRAME_SAMPLES, np.int16))
