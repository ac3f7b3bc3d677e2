"""Conference rooms: every member hears the sum of the *other* members.

Pure core (``mix_for_each``, ``mix_all``): one 20 ms frame per speaking member
in; for every listener the saturating sum of the others' frames out. Levels
are clipped at the int16 limits, not normalised: a lone speaker keeps their
level however many people listen, and clipping only bites when several talk
loudly at once.

Timing: each member's outbound audio is one endless frame iterator
(``Room.frames_for``) that the call's ordinary paced playout pulls once per
tick of the process-wide ``MediaClock``. The first member pulled in a tick
(the one who already took the current round) mixes a new round for everybody:
one frame from each member's inbound ``FrameQueue``, so the room needs no
timer of its own and stays in step with the clock that sends its audio.

A member hears the wait sound (or silence) while the conference has not
started or they are alone; members of a room not started are not heard. A
muted member is not heard; a deaf member hears nothing of the room (the REST
API sets both, ``control/conference.py``); a member on hold is not heard and
hears only their hold music (or silence).
Sounds the room announces (enter/exit beeps) are mixed over what each hears.
Rooms belong to an account, are created on first join and forgotten when the
last member leaves (``Conferences``), which calls the room's ``closing`` hooks and
keeps the room among the recently closed ones (with why it ended, in Twilio's
words: the Twilio API lists completed conferences).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, TypeVar

import numpy as np

from callplane.media.frame_queue import FrameQueue
from callplane.media.mixer import mix
from callplane.media.pcm import FRAME_SAMPLES, Pcm, beep, frames

K = TypeVar("K")
INBOUND_DEPTH: Final = 3
SILENCE: Final = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENCE.flags.writeable = False
BEEPS: Final = {"beep:1": 1, "beep:2": 2}
CLOSED_KEPT: Final = 1000  # recently closed rooms remembered by the process

# -- sans-IO core ---------------------------------------------------------------------


def mix_for_each(speakers: Mapping[K, Pcm], listeners: Iterable[K]) -> dict[K, Pcm]:
    """What each listener hears: every speaker's frame but their own, summed and clipped."""
    total = _total(speakers)
    heard: dict[K, Pcm] = {}
    for listener in listeners:
        own = speakers.get(listener)
        mixed = total if own is None else total - own
        heard[listener] = np.clip(mixed, -32768, 32767).astype(np.int16)
    return heard


def mix_all(speakers: Mapping[K, Pcm]) -> Pcm:
    """The whole room (what a conference recording keeps)."""
    return np.clip(_total(speakers), -32768, 32767).astype(np.int16)


def _total(speakers: Mapping[K, Pcm]) -> np.ndarray:
    total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
    for frame in speakers.values():
        total[: len(frame)] += frame[:FRAME_SAMPLES]
    return total


def beeps(sound: str) -> Pcm:
    """``beep:1`` / ``beep:2`` as audio; empty for anything else."""
    return np.concatenate([beep()] * BEEPS[sound]) if sound in BEEPS else np.zeros(0, np.int16)


# -- rooms ----------------------------------------------------------------------------


def utc_now() -> datetime:
    """Naive UTC, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


def _looped(sound: Pcm) -> Iterator[Pcm]:
    return itertools.cycle(list(frames(sound))) if sound.size else itertools.repeat(SILENCE)


@dataclass(eq=False)
class Member:
    """One call in a room. ``ended`` is called when the room sends it away."""

    member_id: str
    call_uuid: str
    muted: bool = False
    deaf: bool = False
    held: bool = False  # not heard, hears only ``hold_music``
    kicked: bool = False  # sent away through the API
    starts: bool = True  # startConferenceOnEnter
    ends: bool = False  # endConferenceOnExit
    stay_alone: bool = True
    wait_sound: Pcm = field(default_factory=lambda: np.zeros(0, np.int16))
    ended: Callable[[str], None] = lambda reason: None
    inbound: FrameQueue = field(default_factory=lambda: FrameQueue(INBOUND_DEPTH))
    sounds: deque[Iterator[Pcm]] = field(default_factory=deque)
    joined: float = field(default_factory=time.monotonic)
    joined_at: datetime = field(default_factory=utc_now)
    hold_music: Iterator[Pcm] = field(default_factory=lambda: itertools.repeat(SILENCE))
    _waiting: Iterator[Pcm] | None = None

    def heard(self, frame: Pcm) -> None:
        """A decoded frame the member said (a ``CallMedia`` listener)."""
        self.inbound.push(frame)

    def waiting_frame(self) -> Pcm:
        if not self.wait_sound.size:
            return SILENCE
        if self._waiting is None:
            self._waiting = _looped(self.wait_sound)
        return next(self._waiting)

    def hold(self, held: bool, music: Pcm | None = None) -> None:
        """Put on hold (hearing ``music``, looped, or silence) or take off hold."""
        self.held = held
        self.hold_music = _looped(music if music is not None else SILENCE[:0])

    def over_sounds(self, frame: Pcm) -> Pcm:
        while self.sounds:
            extra = next(self.sounds[0], None)
            if extra is not None:
                return mix(frame, extra)
            self.sounds.popleft()
        return frame


class Room:
    def __init__(self, auth_id: str, name: str, uuid: str) -> None:
        self.auth_id = auth_id
        self.name = name
        self.uuid = uuid
        self.members: dict[str, Member] = {}
        self.started = False
        self.opened = time.monotonic()
        self.created = utc_now()
        self.closed_at: datetime | None = None
        # Why the room ended (Twilio's reason_conference_ended) and the call that ended it.
        self.end_reason: str | None = None
        self.ending_call_uuid: str | None = None
        self.taps: list[Callable[[Pcm], None]] = []  # recordings of the whole room
        self.closing: list[Callable[[], None]] = []  # called when the room is forgotten
        self._ids = itertools.count(1)
        self._heard: dict[str, Pcm] = {}
        self._taken: set[str] = set()

    def join(self, member: Member) -> None:
        self.members[member.member_id] = member
        self.started = self.started or member.starts

    def next_member_id(self) -> str:
        return str(next(self._ids))

    def leave(self, member: Member) -> None:
        """Remove ``member``; with endConferenceOnExit everyone else is sent away too."""
        if self.members.pop(member.member_id, None) is None:
            return
        self._taken.discard(member.member_id)
        others = list(self.members.values())
        how = "kicked" if member.kicked else "left"
        if member.ends and others:
            self.ending(f"participant-with-end-conference-on-exit-{how}", member.call_uuid)
            for other in others:
                other.ended("end_conference_on_exit")
        elif not others:
            self.ending(f"last-participant-{how}", member.call_uuid)
        elif len(others) == 1 and not others[0].stay_alone:
            others[0].ended("alone")

    def ending(self, reason: str, call_uuid: str | None = None) -> None:
        """Note why the room ends (the first reason given wins)."""
        if self.end_reason is None:
            self.end_reason, self.ending_call_uuid = reason, call_uuid

    def announce(self, sound: Pcm, *, to: Iterable[Member] | None = None) -> None:
        """Play ``sound`` over the room's audio to ``to`` (every member by default)."""
        if sound.size:
            for member in self.members.values() if to is None else to:
                member.sounds.append(frames(sound))

    def frames_for(self, member: Member) -> Iterator[Pcm]:
        """What ``member`` hears, one frame per clock tick, until they leave."""
        while member.member_id in self.members:
            frame = member.over_sounds(self._next(member))
            if member.held:
                yield next(member.hold_music)
            else:
                yield SILENCE if member.deaf else frame

    def _next(self, member: Member) -> Pcm:
        if not self._taken or member.member_id in self._taken:
            self._mix_round()
        self._taken.add(member.member_id)
        if not self.started or len(self.members) < 2:
            return member.waiting_frame()
        return self._heard.get(member.member_id, SILENCE)

    def _mix_round(self) -> None:
        said = {mid: m.inbound.pull() for mid, m in self.members.items()}
        speakers = (
            {}
            if not self.started
            else {
                mid: frame
                for mid, frame in said.items()
                if not (self.members[mid].muted or self.members[mid].held)
            }
        )
        self._heard = mix_for_each(speakers, self.members)
        self._taken = set()
        if self.taps:
            whole = mix_all(speakers)
            for tap in list(self.taps):
                tap(whole)


class Conferences:
    """The rooms of this process, by account and name."""

    def __init__(self) -> None:
        self.rooms: dict[tuple[str, str], Room] = {}
        self.closed: deque[Room] = deque(maxlen=CLOSED_KEPT)  # newest first
        self.on_close: Callable[[Room], None] | None = None  # a cluster releases the room

    def room(self, auth_id: str, name: str, new_uuid: Callable[[], str]) -> Room:
        """The account's room ``name``, created on first use."""
        key = (auth_id, name)
        if key not in self.rooms:
            self.rooms[key] = Room(auth_id, name, new_uuid())
        return self.rooms[key]

    def find(self, auth_id: str, name: str) -> Room | None:
        return self.rooms.get((auth_id, name))

    def forget_if_empty(self, room: Room) -> None:
        key = (room.auth_id, room.name)
        if not room.members and self.rooms.get(key) is room:
            del self.rooms[key]
            room.closed_at = utc_now()
            self.closed.appendleft(room)
            for hook in room.closing:
                hook()
            room.closing.clear()
            room.taps.clear()
            if self.on_close is not None:
                self.on_close(room)

    def keys(self) -> list[tuple[str, str]]:
        """(account, name) of every open room."""
        return list(self.rooms)

    def of_account(self, auth_id: str) -> list[Room]:
        return [room for (owner, _), room in self.rooms.items() if owner == auth_id]

    def closed_of(self, auth_id: str) -> list[Room]:
        """The account's recently closed rooms, newest first."""
        return [room for room in self.closed if room.auth_id == auth_id]
