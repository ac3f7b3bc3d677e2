"""``<Dial>``: relay audio and digits between two anchored call legs.

Both legs stay at Callplane; the bridge works on *decoded frames*. Each leg's
``RtpSession`` decodes what it receives (``on_audio``) into a small per
direction ``FrameQueue``; the other leg's ordinary paced playout (``play`` on
the shared ``MediaClock``) pulls one 20 ms frame per tick and encodes it.

Why frames and not packets:

* each leg keeps its own ``OutboundStream``, so SSRC, sequence numbers and
  timestamps stay continuous per leg (RFC 3550 5.1) across silence, re-INVITEs
  of the other leg or a Play before the Dial -- nothing to rewrite;
* PCMU <-> PCMA transcoding and ptime re-framing come for free;
* a ``CallMedia`` leg keeps its listeners, sent listeners and API overlay, so
  ``recordSession`` and ``/Play`` on a bridged call work unchanged.

The cost: a decode and an encode per frame (two table look-ups, a few us),
up to one tick of added latency plus the queue (at most ``depth`` frames),
and relayed digits are re-generated with a fixed duration (RFC 4733 2.5.1)
instead of mirroring the original event's length.

Queue policy: at most ``depth`` frames per direction; on overflow the oldest
samples are dropped, on underrun a frame of silence is sent, so each leg keeps
a steady 20 ms stream whatever the other side does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from callplane.media.mixer import mix
from callplane.media.pcm import FRAME_SAMPLES, Pcm
from callplane.net.rtp_session import AudioCallback, DtmfCallback, RtpSession
from callplane.rtp.errors import RtpError

if TYPE_CHECKING:
    from callplane.calls.media import CallMedia

logger = logging.getLogger("callplane.media.bridge")

DEFAULT_DEPTH: Final = 2
MAX_TAP_LAG: Final = 3
DTMF_DURATION_MS: Final = 100
SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENCE.flags.writeable = False  # shared by every underrun: nobody may scribble on it

PairTap = Callable[[Pcm, Pcm], None]
FrameTap = Callable[[Pcm], None]


class Side(enum.Enum):
    """Which leg: A is the incoming call, B the one ``<Dial>`` placed."""

    A = "a"
    B = "b"

    @property
    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A


DigitHook = Callable[[Side, str], bool]
"""``(side the digit was heard on, digit) -> True`` if consumed (not relayed)."""


class BridgeState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


_TRANSITIONS: Final = {
    BridgeState.NEW: {BridgeState.RUNNING, BridgeState.STOPPED},
    BridgeState.RUNNING: {BridgeState.STOPPED},
    BridgeState.STOPPED: set[BridgeState](),
}


class BridgeError(RtpError):
    """The bridge was used out of order (started twice, started after stop)."""


# -- sans-IO core ---------------------------------------------------------------------


class FrameQueue:
    """One direction's jitter-tolerant FIFO of samples: push decoded audio, pull 20 ms.

    Holds at most ``depth`` frames (plus one incoming packet beyond 20 ms, so a
    30 ms ptime does not overflow every time). Samples, not packets, are queued,
    so any ptime is re-framed into 160-sample frames.
    """

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1 frame, got {depth}")
        self.depth = depth
        self._samples: Pcm = np.zeros(0, dtype=np.int16)
        self._largest = FRAME_SAMPLES
        self.received = 0
        self.relayed = 0
        self.underruns = 0
        self.dropped_samples = 0

    @property
    def buffered(self) -> int:
        return len(self._samples)

    @property
    def capacity(self) -> int:
        return self.depth * FRAME_SAMPLES + self._largest - FRAME_SAMPLES

    def push(self, pcm: Pcm) -> None:
        self.received += 1
        self._largest = max(self._largest, len(pcm))
        samples = np.concatenate([self._samples, pcm])
        excess = len(samples) - self.capacity
        if excess > 0:
            self.dropped_samples += excess
            samples = samples[excess:]
        self._samples = samples

    def pull(self) -> Pcm:
        """The next frame; silence (or the rest, zero-padded) on underrun."""
        if len(self._samples) >= FRAME_SAMPLES:
            frame, self._samples = self._samples[:FRAME_SAMPLES], self._samples[FRAME_SAMPLES:]
            self.relayed += 1
            return frame
        self.underruns += 1
        if not len(self._samples):
            return SILENCE
        frame = np.concatenate([self._samples, SILENCE[len(self._samples) :]])
        self._samples = self._samples[:0]
        return frame

    def clear(self) -> None:
        self._samples = self._samples[:0]


class TapPairer:
    """Pairs the frames sent each tick into ``(a_frame, b_frame)`` for recording taps.

    ``a_frame`` is what A said (sent to B), ``b_frame`` what B said. When one
    direction stalls (its leg is sending an RFC 4733 digit), the other is paired
    with silence once it is more than ``max_lag`` frames ahead.
    """

    def __init__(self, max_lag: int = MAX_TAP_LAG) -> None:
        self.max_lag = max_lag
        self._pending: dict[Side, deque[Pcm]] = {Side.A: deque(), Side.B: deque()}

    def add(self, speaker: Side, frame: Pcm) -> list[tuple[Pcm, Pcm]]:
        self._pending[speaker].append(frame)
        pairs: list[tuple[Pcm, Pcm]] = []
        while pair := self._next_pair():
            pairs.append(pair)
        return pairs

    def _next_pair(self) -> tuple[Pcm, Pcm] | None:
        a, b = self._pending[Side.A], self._pending[Side.B]
        if a and b:
            return a.popleft(), b.popleft()
        if len(a) > self.max_lag:
            return a.popleft(), SILENCE
        if len(b) > self.max_lag:
            return SILENCE, b.popleft()
        return None


def mixed(tap: FrameTap) -> PairTap:
    """Adapt a mono consumer (a ``Recorder``-like sink) to receive both parties mixed."""

    def pair_tap(a_frame: Pcm, b_frame: Pcm) -> None:
        tap(mix(a_frame, b_frame))

    return pair_tap


@dataclass(frozen=True, slots=True)
class DirectionStats:
    """One direction, named by who speaks: ``a_to_b`` is A's audio played to B."""

    packets_received: int
    frames_relayed: int
    frames_dropped: int
    underruns: int
    digits_relayed: int
    digits_consumed: int


@dataclass(frozen=True, slots=True)
class BridgeStats:
    a_to_b: DirectionStats
    b_to_a: DirectionStats


@dataclass(slots=True)
class _Digits:
    relayed: int = 0
    consumed: int = 0


# -- the asyncio layer ----------------------------------------------------------------


class _Leg:
    """What the bridge needs of a leg, given a bare ``RtpSession`` or a ``CallMedia``."""

    def __init__(self, leg: CallMedia | RtpSession) -> None:
        self.media = None if isinstance(leg, RtpSession) else leg
        self.session = leg if isinstance(leg, RtpSession) else leg.session
        self._saved: tuple[AudioCallback | None, DtmfCallback | None] | None = None
        self._listener: AudioCallback | None = None

    def attach(self, on_audio: AudioCallback, on_dtmf: DtmfCallback) -> None:
        """Hear the leg's audio and take its digits (given back by ``detach``)."""
        self._saved = (self.session.on_audio, self.session.on_dtmf)
        self.session.on_dtmf = on_dtmf
        if self.media is not None:
            self.media.listeners.append(on_audio)
            self._listener = on_audio
        else:
            self.session.on_audio = on_audio

    def detach(self) -> None:
        if self._saved is None:
            return
        self.session.on_audio, self.session.on_dtmf = self._saved
        self._saved = None
        if self.media is not None and self._listener in self.media.listeners:
            self.media.listeners.remove(self._listener)

    async def play(self, frames: Iterator[Pcm]) -> None:
        if self.media is not None:
            await self.media.play_frames(frames)
        else:
            await self.session.play(frames)


class _Direction:
    """Audio and digits heard on ``source``, played and signalled on ``sink``."""

    def __init__(self, speaker: Side, source: _Leg, sink: _Leg, depth: int) -> None:
        self.speaker = speaker
        self.source = source
        self.sink = sink
        self.queue = FrameQueue(depth)
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.counts = _Digits()

    def stats(self) -> DirectionStats:
        q = self.queue
        return DirectionStats(
            packets_received=q.received,
            frames_relayed=q.relayed,
            frames_dropped=-(-q.dropped_samples // FRAME_SAMPLES),
            underruns=q.underruns,
            digits_relayed=self.counts.relayed,
            digits_consumed=self.counts.consumed,
        )


class Bridge:
    """Relays audio and RFC 4733 digits between legs ``a`` and ``b`` until ``stop``.

    ``on_digit(side, digit)`` sees every digit first and returns True to keep it
    from the other leg (hangupOnStar, digitsMatch). Taps receive one
    ``(a_frame, b_frame)`` pair per 20 ms tick (wrap a mono sink with ``mixed``).
    The bridge never closes the legs.
    """

    def __init__(
        self,
        a: CallMedia | RtpSession,
        b: CallMedia | RtpSession,
        *,
        depth: int = DEFAULT_DEPTH,
        on_digit: DigitHook | None = None,
        dtmf_duration_ms: int = DTMF_DURATION_MS,
    ) -> None:
        leg_a, leg_b = _Leg(a), _Leg(b)
        self._directions = {
            Side.A: _Direction(Side.A, leg_a, leg_b, depth),
            Side.B: _Direction(Side.B, leg_b, leg_a, depth),
        }
        self.on_digit = on_digit
        self.dtmf_duration_ms = dtmf_duration_ms
        self.state = BridgeState.NEW
        self._taps: list[PairTap] = []
        self._pairer = TapPairer()
        self._tasks: list[asyncio.Task[None]] = []

    def _set_state(self, state: BridgeState) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise BridgeError(f"bridge cannot go from {self.state.value} to {state.value}")
        logger.debug("bridge %s -> %s", self.state.value, state.value)
        self.state = state

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Take over both legs' audio and digits and start relaying (needs a running loop)."""
        self._set_state(BridgeState.RUNNING)
        for direction in self._directions.values():
            direction.source.attach(direction.queue.push, self._digit_handler(direction))
            self._spawn(direction.sink.play(self._frames(direction)))
            self._spawn(self._relay_digits(direction))

    async def stop(self) -> None:
        """Stop relaying; each leg gets its callbacks back and stops sending."""
        if self.state is BridgeState.STOPPED:
            return
        self._set_state(BridgeState.STOPPED)
        for direction in self._directions.values():
            direction.source.detach()
            direction.queue.clear()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Bridge:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.warning("bridge relay ended: %s", task.exception())

    # -- audio ------------------------------------------------------------------------

    def _frames(self, direction: _Direction) -> Iterator[Pcm]:
        """What the sink leg plays: one frame per clock tick, forever."""
        while True:
            frame = direction.queue.pull()
            self._tap(direction.speaker, frame)
            yield frame

    def add_tap(self, tap: PairTap) -> PairTap:
        self._taps.append(tap)
        return tap

    def remove_tap(self, tap: PairTap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    def _tap(self, speaker: Side, frame: Pcm) -> None:
        if not self._taps:
            return
        for a_frame, b_frame in self._pairer.add(speaker, frame):
            for tap in list(self._taps):
                tap(a_frame, b_frame)

    # -- digits -----------------------------------------------------------------------

    def _digit_handler(self, direction: _Direction) -> DtmfCallback:
        def heard(digit: str) -> None:
            if self.on_digit is not None and self.on_digit(direction.speaker, digit):
                direction.counts.consumed += 1
            else:
                direction.digits.put_nowait(digit)

        return heard

    async def _relay_digits(self, direction: _Direction) -> None:
        """Re-send digits in order on the other leg (RFC 4733 events; audio pauses)."""
        while True:
            digit = await direction.digits.get()
            try:
                await direction.sink.session.send_dtmf(digit, self.dtmf_duration_ms)
            except RtpError as exc:
                logger.warning("could not relay DTMF %r: %s", digit, exc)
                continue
            direction.counts.relayed += 1

    def stats(self) -> BridgeStats:
        return BridgeStats(self._directions[Side.A].stats(), self._directions[Side.B].stats())


__all__ = [
    "Bridge",
    "BridgeError",
    "BridgeState",
    "BridgeStats",
    "DigitHook",
    "DirectionStats",
    "FrameQueue",
    "PairTap",
    "Side",
    "TapPairer",
    "mixed",
]
