"""The media of one answered call: what verbs play, hear and record.

Wraps the leg's media session (``MediaSession``: an ``RtpSession``, or the
in-memory one ``tests/verbs`` plays into): playback that can stop on the first
digit, digits from RFC 4733 and SIP INFO in one queue, listeners (recorders,
silence detectors) that see every inbound frame, and an *overlay*: audio the
REST API plays on the call, mixed over whatever the verbs play (or alone,
``mix=False``), and played by itself while no verb plays (mixed over the other
leg's audio when the call is bridged, see ``under_overlay``). *Backgrounds*
(a two-way ``<Stream>`` fork's agent audio) are endless sources mixed the same
way, under the overlay: an API Play/Speak neither replaces nor stops them, and
one played alone (``mix=False``) holds them back until it ends.

µ-law pass-through (a ``<Stream>`` in ``audio/x-mulaw`` on a PCMU leg): the
caller's PCMU payloads reach ``mulaw_listeners`` as they came, decoded only for
the PCM listeners (recordings, detectors); frames to send may be µ-law ``bytes``
(the agent's audio), sent as they are unless something is mixed over them or a
sent listener needs PCM, which then gets them decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

import numpy as np

from callplane.media.frame_queue import FrameQueue
from callplane.media.mixer import mix
from callplane.media.pcm import FRAME_SAMPLES, frames, loop
from callplane.rtp.g711 import DECODERS, PCMU, Frame, pcm_of, ulaw_decode, ulaw_encode

Pcm = np.ndarray
Listener = Callable[[Pcm], None]
MulawListener = Callable[[bytes], None]


class MediaSession(Protocol):
    """What ``CallMedia`` uses of a leg's media: paced playout, digits out, audio and
    digits in (``RtpSession`` is the real one)."""

    on_audio: Callable[[Pcm], None] | None
    on_payload: Callable[[bytes, int], None] | None  # undecoded audio, used instead of on_audio
    on_dtmf: Callable[[str], None] | None

    async def play(self, frames: Iterable[Frame]) -> None:
        """Send one frame per 20 ms until ``frames`` runs out (or cancellation);
        ``bytes`` frames are µ-law."""

    async def send_dtmf(self, digits: str) -> None: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=MediaSession)


class CallMedia(Generic[S]):
    def __init__(self, session: S) -> None:
        self.session = session
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.listeners: list[Listener] = []
        self.mulaw_listeners: list[MulawListener] = []  # the caller's audio as µ-law bytes
        self.sent_listeners: list[Listener] = []  # see every frame the call sends
        self.digit_listeners: list[Callable[[str], None]] = []  # keys, as they arrive
        self._overlay: Iterator[Frame] | None = None
        self._overlay_mixed = True
        self._backgrounds: list[Iterator[Frame]] = []
        self._overlay_alone: asyncio.Task[None] | None = None
        self._under_overlay = FrameQueue()  # relayed audio an API Play is mixed over
        self._verb_playing = False
        self._digit_came = asyncio.Event()
        session.on_dtmf = self.add_digit
        session.on_audio = self._heard
        session.on_payload = self.heard_payload

    def _heard(self, frame: Pcm) -> None:
        for listener in list(self.listeners):
            listener(frame)
        if self.mulaw_listeners:
            encoded = ulaw_encode(frame)
            for mulaw_listener in tuple(self.mulaw_listeners):
                mulaw_listener(encoded)

    def heard_payload(self, payload: bytes, payload_type: int) -> None:
        """The caller's audio as the leg carried it: PCMU goes to the µ-law listeners as
        it is, and is decoded only if PCM listeners wait."""
        if payload_type != PCMU:
            self._heard(DECODERS[payload_type](payload))
            return
        for mulaw_listener in tuple(self.mulaw_listeners):
            mulaw_listener(payload)
        if self.listeners:
            pcm = ulaw_decode(payload)
            for listener in list(self.listeners):
                listener(pcm)

    @contextlib.contextmanager
    def listening(self, listener: Listener) -> Iterator[None]:
        self.listeners.append(listener)
        try:
            yield
        finally:
            self.listeners.remove(listener)

    def add_digit(self, digit: str) -> None:
        """A key the caller pressed (RFC 4733 event or SIP INFO), in arrival order."""
        self.digits.put_nowait(digit)
        self._digit_came.set()
        for listener in list(self.digit_listeners):
            listener(digit)

    def clear_digits(self) -> None:
        while not self.digits.empty():
            self.digits.get_nowait()

    # -- what verbs play -----------------------------------------------------------------

    async def play(self, pcm: Pcm, times: int = 1, *, until_digit: bool = False) -> bool:
        """Play ``pcm`` ``times`` times (0 = until stopped); True if a digit stopped it.

        A digit that stops playback stays in the queue for whoever collects digits.
        """
        return await self.play_frames(frames_of(pcm, times), until_digit=until_digit)

    async def play_frames(self, stream: Iterable[Frame], *, until_digit: bool = False) -> bool:
        await self._stop_overlay_alone()
        self._verb_playing = True
        playing = asyncio.ensure_future(self.session.play(self._with_overlay(stream)))
        try:
            if not until_digit:
                await playing
                return False
            waiting = asyncio.ensure_future(self._digit_arrives())
            try:
                done, _ = await asyncio.wait(
                    {playing, waiting}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiting.cancel()
            return waiting in done
        finally:
            playing.cancel()
            await asyncio.gather(playing, return_exceptions=True)
            self._verb_playing = False
            self._start_overlay_alone()

    async def _digit_arrives(self) -> None:
        """Return once a key is waiting in ``digits``, leaving it (and its order) there."""
        while self.digits.empty():
            self._digit_came.clear()
            await self._digit_came.wait()

    async def silence(self, seconds: float) -> None:
        await self.play_frames(frames_of(np.zeros(int(seconds * 8000), np.int16), 1))

    async def send_digits(self, digits: str) -> None:
        await self.session.send_dtmf(digits)

    # -- what the API plays over them ----------------------------------------------------

    def overlay(self, stream: Iterator[Frame], *, mixed: bool = True) -> None:
        """Play ``stream`` on the call now, over the verbs' audio (or instead of it)."""
        self._overlay, self._overlay_mixed = stream, mixed
        self._start_overlay_alone()

    async def stop_overlay(self) -> None:
        """Stop the overlay; backgrounds play on."""
        self._overlay = None
        await self._stop_overlay_alone()
        self._start_overlay_alone()

    def add_background(self, stream: Iterator[Frame]) -> None:
        """Mix ``stream`` (endless) into what the call sends, under the overlay."""
        self._backgrounds.append(stream)
        self._start_overlay_alone()

    async def remove_background(self, stream: Iterator[Frame]) -> None:
        with contextlib.suppress(ValueError):
            self._backgrounds.remove(stream)
        if not self._has_overlay():
            await self._stop_overlay_alone()

    def _has_overlay(self) -> bool:
        return self._overlay is not None or bool(self._backgrounds)

    def _with_overlay(self, stream: Iterable[Frame]) -> Iterator[Frame]:
        for frame in stream:
            if self._overlay is not None or self._backgrounds:
                extra, alone = self._next_overlay_frame()
                if extra is not None:
                    frame = extra if alone else mix(pcm_of(frame), pcm_of(extra))
            if self.sent_listeners:
                self._sending(frame)
            yield frame

    def _sending(self, frame: Frame) -> Frame:
        if self.sent_listeners:
            pcm = pcm_of(frame)
            for listener in self.sent_listeners:
                listener(pcm)
        return frame

    def _next_overlay_frame(self) -> tuple[Frame | None, bool]:
        """This tick's overlay frame mixed over the backgrounds' (None: neither plays), and
        whether it is to be played alone (an overlay with ``mixed=False``)."""
        frame = None
        if self._overlay is not None:
            frame = next(self._overlay, None)
            if frame is None:
                self._overlay = None
            elif not self._overlay_mixed:
                return frame, True
        for background in list(self._backgrounds):
            under = next(background, None)
            if under is None:
                self._backgrounds.remove(background)
            else:
                frame = under if frame is None else mix(pcm_of(under), pcm_of(frame))
        return frame, False

    def _start_overlay_alone(self) -> None:
        if not self._has_overlay() or self._verb_playing or self._overlay_alone is not None:
            return
        self._overlay_alone = asyncio.ensure_future(self.session.play(self._overlay_only()))
        self._overlay_alone.add_done_callback(self._overlay_alone_done)

    def _overlay_only(self) -> Iterator[Frame]:
        while True:
            frame, alone = self._next_overlay_frame()
            if frame is None:
                break
            if not alone:
                frame = mix(self._under_overlay.pull(), pcm_of(frame))
            yield self._sending(frame)
        self._under_overlay.clear()

    def under_overlay(self, pcm: Pcm) -> bool:
        """Audio a bridge relays to this call while an API Play (``mix``) or a background
        plays on it alone: played mixed under it; False when none plays (relay as usual)."""
        playing_alone = self._overlay is not None and not self._overlay_mixed
        if self._overlay_alone is None or not self._has_overlay() or playing_alone:
            return False
        self._under_overlay.push(pcm)
        return True

    def _overlay_alone_done(self, task: asyncio.Task[None]) -> None:
        if self._overlay_alone is task:
            self._overlay_alone = None

    async def _stop_overlay_alone(self) -> None:
        task, self._overlay_alone = self._overlay_alone, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        self._overlay = None
        self._backgrounds.clear()
        await self._stop_overlay_alone()
        await self.session.close()


def frames_of(pcm: Pcm, times: int) -> Iterator[Pcm]:
    """20 ms frames of ``pcm`` repeated ``times`` times (0 = forever)."""
    if len(pcm) == 0:
        return iter(())
    if times == 1:
        return frames(pcm, FRAME_SAMPLES)
    return (frame for chunk in loop(pcm, times) for frame in frames(chunk, FRAME_SAMPLES))
