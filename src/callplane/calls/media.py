"""The media of one answered call: what verbs play, hear and record.

Wraps the leg's RtpSession: playback that can stop on the first digit, digits
from RFC 4733 and SIP INFO in one queue, and listeners (recorders, silence
detectors) that see every inbound frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from callplane.media.pcm import FRAME_SAMPLES, frames, loop
from callplane.net.rtp_session import RtpSession

Pcm = np.ndarray
Listener = Callable[[Pcm], None]


class CallMedia:
    def __init__(self, session: RtpSession) -> None:
        self.session = session
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.listeners: list[Listener] = []
        session.on_dtmf = self.digits.put_nowait
        session.on_audio = self._heard

    def _heard(self, frame: Pcm) -> None:
        for listener in list(self.listeners):
            listener(frame)

    @contextlib.contextmanager
    def listening(self, listener: Listener) -> Iterator[None]:
        self.listeners.append(listener)
        try:
            yield
        finally:
            self.listeners.remove(listener)

    def clear_digits(self) -> None:
        while not self.digits.empty():
            self.digits.get_nowait()

    async def play(self, pcm: Pcm, times: int = 1, *, until_digit: bool = False) -> bool:
        """Play ``pcm`` ``times`` times (0 = until stopped); True if a digit stopped it.

        A digit that stops playback stays in the queue for whoever collects digits.
        """
        return await self.play_frames(frames_of(pcm, times), until_digit=until_digit)

    async def play_frames(self, stream: Iterable[Pcm], *, until_digit: bool = False) -> bool:
        playing = asyncio.ensure_future(self.session.play(stream))
        if not until_digit:
            await playing
            return False
        waiting = asyncio.ensure_future(self._digit_arrives())
        try:
            done, _ = await asyncio.wait({playing, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (playing, waiting):
                task.cancel()
            await asyncio.gather(playing, waiting, return_exceptions=True)
        return waiting in done

    async def _digit_arrives(self) -> None:
        if self.digits.empty():
            self.digits.put_nowait(await self.digits.get())

    async def silence(self, seconds: float) -> None:
        await self.session.play(frames_of(np.zeros(int(seconds * 8000), np.int16), 1))

    async def send_digits(self, digits: str) -> None:
        await self.session.send_dtmf(digits)

    async def close(self) -> None:
        await self.session.close()


def frames_of(pcm: Pcm, times: int) -> Iterator[Pcm]:
    """20 ms frames of ``pcm`` repeated ``times`` times (0 = forever)."""
    if len(pcm) == 0:
        return iter(())
    if times == 1:
        return frames(pcm, FRAME_SAMPLES)
    return (frame for chunk in loop(pcm, times) for frame in frames(chunk, FRAME_SAMPLES))
