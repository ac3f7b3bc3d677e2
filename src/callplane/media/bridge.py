"""``<Dial>``: relay audio and digits between two anchored call legs.

Both legs stay at Callplane. Each direction relays audio one of two ways:

* **pass-through**, when both legs negotiated the same codec: each audio packet
  is sent on to the other leg as it arrives (``RtpSession.relay``), undecoded,
  re-numbered into that leg's own stream by a ``Splice`` (``rtp/stream.py``),
  so the far end sees one continuous stream across our own media before and
  after the bridge. No queue and no clock tick: a stall of the event loop
  delays packets instead of dropping them, and adds no re-clocking latency.
* **transcoding**, when they differ (PCMU <-> PCMA): the source leg decodes into
  a small ``FrameQueue``; the sink's ordinary paced playout (``play`` on the
  shared ``MediaClock``) pulls one 20 ms frame per tick and encodes it. At most
  ``depth`` frames wait; on overflow the oldest samples go, on underrun a frame
  of silence is sent, so the sink keeps a steady 20 ms stream.

Digits are never relayed as packets: each leg's ``DtmfReceiver`` turns RFC 4733
events into digits, ``on_digit`` may keep one from the other leg (hangupOnStar,
digitsMatch), the rest are re-sent on the other leg with a fixed duration
(RFC 4733 2.5.1) while its audio pauses. A ``CallMedia`` leg keeps its listeners
and sent listeners (``recordSession``, ``startOnDialAnswer``, ``<Dial record>``);
in pass-through, audio is decoded only while one of them is attached. A leg on
hold (``on_hold``) or sending a digit is sent nothing; a leg that plays an API
Play with ``mix`` gets the relayed audio mixed under it (``CallMedia.under_overlay``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from callplane.media.frame_queue import DEFAULT_DEPTH, FrameQueue
from callplane.media.pcm import FRAME_SAMPLES, Pcm
from callplane.net.rtp_session import (
    AudioCallback,
    DtmfCallback,
    PacketCallback,
    PayloadCallback,
    RtpSession,
)
from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket
from callplane.rtp.stream import Splice

if TYPE_CHECKING:
    from callplane.media.call_media import CallMedia

logger = logging.getLogger("callplane.media.bridge")

DTMF_DURATION_MS: Final = 100


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


@dataclass(frozen=True, slots=True)
class DirectionStats:
    """One direction, named by who speaks: ``a_to_b`` is A's audio played to B.

    ``relayed`` counts packets (pass-through) or 20 ms frames (transcoding);
    ``dropped`` what was not relayed: packets that came while the sink was on
    hold, sending a digit or playing its own audio, or frames a full queue lost.
    """

    passthrough: bool
    packets_received: int
    relayed: int
    dropped: int
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


def same_codec(a: RtpSession, b: RtpSession) -> bool:
    """Whether audio can pass from one leg to the other undecoded."""
    return (a.stream.payload_type, a.stream.clock_rate) == (
        b.stream.payload_type,
        b.stream.clock_rate,
    )


# -- the asyncio layer ----------------------------------------------------------------


class _Leg:
    """What the bridge needs of a leg, given a bare ``RtpSession`` or a ``CallMedia``."""

    def __init__(self, leg: CallMedia[RtpSession] | RtpSession) -> None:
        self.media = None if isinstance(leg, RtpSession) else leg
        self.session = leg if isinstance(leg, RtpSession) else leg.session
        self._saved: tuple[
            AudioCallback | None, PayloadCallback | None, DtmfCallback | None, PacketCallback | None
        ]
        self._saved = (None, None, None, None)
        self._attached = False
        self._listener: AudioCallback | None = None

    def attach(
        self,
        on_dtmf: DtmfCallback,
        *,
        on_audio: AudioCallback | None = None,
        on_packet: PacketCallback | None = None,
    ) -> None:
        """Take the leg's digits and hear its audio, decoded or not (given back by ``detach``)."""
        session = self.session
        self._saved = (session.on_audio, session.on_payload, session.on_dtmf, session.on_packet)
        self._attached = True
        session.on_dtmf = on_dtmf
        if on_packet is not None:
            session.on_packet, session.on_audio, session.on_payload = on_packet, None, None
        elif self.media is not None and on_audio is not None:
            self.media.listeners.append(on_audio)
            self._listener = on_audio
        else:
            session.on_audio, session.on_payload = on_audio, None

    def detach(self) -> None:
        if not self._attached:
            return
        self._attached = False
        session = self.session
        session.on_audio, session.on_payload, session.on_dtmf, session.on_packet = self._saved
        if self.media is not None and self._listener in self.media.listeners:
            self.media.listeners.remove(self._listener)

    @property
    def sent_listeners(self) -> list[AudioCallback]:
        """Who hears what this leg is sent (recordings)."""
        return self.media.sent_listeners if self.media is not None else []

    async def play(self, frames: Iterator[Pcm]) -> None:
        if self.media is not None:
            await self.media.play_frames(frames)
        else:
            await self.session.play(frames)


class _Direction:
    """Audio and digits heard on ``source``, played and signalled on ``sink``."""

    passthrough = False

    def __init__(self, speaker: Side, source: _Leg, sink: _Leg) -> None:
        self.speaker = speaker
        self.source = source
        self.sink = sink
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.counts = _Digits()

    def attach(self, on_dtmf: DtmfCallback) -> Coroutine[Any, Any, None] | None:
        """Start hearing the source; what must run to feed the sink, if anything."""
        raise NotImplementedError

    def detach(self) -> None:
        self.source.detach()

    def audio_counts(self) -> tuple[int, int, int, int]:
        """``(packets received, relayed, dropped, underruns)``."""
        raise NotImplementedError

    def stats(self) -> DirectionStats:
        received, relayed, dropped, underruns = self.audio_counts()
        return DirectionStats(
            passthrough=self.passthrough,
            packets_received=received,
            relayed=relayed,
            dropped=dropped,
            underruns=underruns,
            digits_relayed=self.counts.relayed,
            digits_consumed=self.counts.consumed,
        )


class _PassThrough(_Direction):
    """Each packet sent on as it arrives; decoded only for recordings."""

    passthrough = True

    def __init__(self, speaker: Side, source: _Leg, sink: _Leg) -> None:
        super().__init__(speaker, source, sink)
        self.splice = Splice(sink.session.stream)
        self.received = self.relayed = self.dropped = 0

    def attach(self, on_dtmf: DtmfCallback) -> None:
        self.source.attach(on_dtmf, on_packet=self.heard)

    def heard(self, packet: RtpPacket) -> None:
        self.received += 1
        source, sink = self.source.session, self.sink.session
        out = packet
        if packet.payload_type != sink.stream.payload_type:  # a re-INVITE changed one codec
            out = dataclasses.replace(packet, payload=sink.encode(source.decode(packet.payload)))
        sent = sink.relay(out, self.splice)
        media = self.sink.media
        mixed = False  # an API Play mixes over the relay (and feeds the sent listeners)
        if not sent and media is not None:
            mixed = media.under_overlay(source.decode(packet.payload))
        if sent or mixed:
            self.relayed += 1
        else:
            self.dropped += 1
        if self.source.media is not None:  # recordings, a stream's inbound track
            self.source.media.heard_payload(packet.payload, packet.payload_type)
        if sent and self.sink.sent_listeners:
            pcm = source.decode(packet.payload)
            for listener in self.sink.sent_listeners:
                listener(pcm)

    def audio_counts(self) -> tuple[int, int, int, int]:
        return self.received, self.relayed, self.dropped, 0


class _Transcode(_Direction):
    """Decoded into a ``FrameQueue``, re-encoded by the sink's paced playout."""

    def __init__(self, speaker: Side, source: _Leg, sink: _Leg, depth: int) -> None:
        super().__init__(speaker, source, sink)
        self.queue = FrameQueue(depth)

    def attach(self, on_dtmf: DtmfCallback) -> Coroutine[Any, Any, None]:
        self.source.attach(on_dtmf, on_audio=self.queue.push)
        return self.sink.play(self._frames())

    def _frames(self) -> Iterator[Pcm]:
        while True:
            yield self.queue.pull()

    def detach(self) -> None:
        super().detach()
        self.queue.clear()

    def audio_counts(self) -> tuple[int, int, int, int]:
        q = self.queue
        return q.received, q.relayed, -(-q.dropped_samples // FRAME_SAMPLES), q.underruns


def _direction(speaker: Side, source: _Leg, sink: _Leg, depth: int) -> _Direction:
    if same_codec(source.session, sink.session):
        return _PassThrough(speaker, source, sink)
    return _Transcode(speaker, source, sink, depth)


class Bridge:
    """Relays audio and RFC 4733 digits between legs ``a`` and ``b`` until ``stop``.

    ``on_digit(side, digit)`` sees every digit first and returns True to keep it
    from the other leg (hangupOnStar, digitsMatch). The bridge never closes the legs.
    """

    def __init__(
        self,
        a: CallMedia[RtpSession] | RtpSession,
        b: CallMedia[RtpSession] | RtpSession,
        *,
        depth: int = DEFAULT_DEPTH,
        on_digit: DigitHook | None = None,
        dtmf_duration_ms: int = DTMF_DURATION_MS,
    ) -> None:
        leg_a, leg_b = _Leg(a), _Leg(b)
        self._directions = {
            Side.A: _direction(Side.A, leg_a, leg_b, depth),
            Side.B: _direction(Side.B, leg_b, leg_a, depth),
        }
        self.on_digit = on_digit
        self.dtmf_duration_ms = dtmf_duration_ms
        self.state = BridgeState.NEW
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
            feeding = direction.attach(self._digit_handler(direction))
            if feeding is not None:
                self._spawn(feeding)
            self._spawn(self._relay_digits(direction))

    async def stop(self) -> None:
        """Stop relaying; each leg gets its callbacks back and stops sending."""
        if self.state is BridgeState.STOPPED:
            return
        self._set_state(BridgeState.STOPPED)
        for direction in self._directions.values():
            direction.detach()
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
    "Side",
    "same_codec",
]
