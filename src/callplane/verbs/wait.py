"""Wait / Pause: silence for ``length`` seconds.

With ``silence``, the wait ends once the caller has been quiet for
``min_silence`` seconds; with ``beep``, once a beep (a steady tone, as an
answering machine plays) is heard. Either way it lasts ``length`` at most.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from callplane.calls.call import Call
from callplane.markup.verbs import Wait
from callplane.media.call_media import Listener
from callplane.media.pcm import rms
from callplane.verbs.base import ENDED, NEXT, Outcome

QUIET_RMS = 200.0  # int16 RMS below which a 20 ms frame counts as silence
BEEP_FRAMES = 10  # 200 ms of steady tone
FRAME_SECONDS = 0.02


async def run(call: Call, verb: Wait, *, until_digit: bool = False) -> Outcome:
    if not await call.media_ready():
        return ENDED
    done = asyncio.Event()
    watch = _silence_watch(verb.min_silence, done) if verb.silence else None
    watch = _beep_watch(done) if verb.beep else watch
    playing = asyncio.ensure_future(call.media.silence(verb.length))
    ended = asyncio.ensure_future(done.wait())
    with call.media.listening(watch) if watch else contextlib.nullcontext():
        try:
            await asyncio.wait({playing, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the call's hangup cancels the verb: no task left unawaited
            for task in (playing, ended):
                task.cancel()
            await asyncio.gather(playing, ended, return_exceptions=True)
    return NEXT


def _silence_watch(min_silence: float, done: asyncio.Event) -> Listener:
    needed = max(1, round(min_silence / FRAME_SECONDS))
    quiet = 0

    def hear(frame: np.ndarray) -> None:
        nonlocal quiet
        quiet = quiet + 1 if rms(frame) < QUIET_RMS else 0
        if quiet >= needed:
            done.set()

    return hear


def _beep_watch(done: asyncio.Event) -> Listener:
    steady = 0
    last_peak = -1

    def hear(frame: np.ndarray) -> None:
        nonlocal steady, last_peak
        spectrum = np.abs(np.fft.rfft(frame.astype(np.float64)))
        peak = int(np.argmax(spectrum))
        tonal = rms(frame) > QUIET_RMS and spectrum[peak] > 0.5 * spectrum.sum() / 4
        steady = steady + 1 if tonal and abs(peak - last_peak) <= 1 else 0
        last_peak = peak
        if steady >= BEEP_FRAMES:
            done.set()

    return hear
