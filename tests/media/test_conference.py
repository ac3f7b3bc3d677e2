"""The conference mixer without sockets: rounds, muting, waiting, leaving."""

from __future__ import annotations

import numpy as np

from callplane.media.conference import (
    Conferences,
    Member,
    Room,
    beeps,
    mix_all,
    mix_for_each,
)
from callplane.media.pcm import FRAME_SAMPLES, beep


def level(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, np.int16)


def test_each_listener_hears_everyone_but_themselves() -> None:
    heard = mix_for_each({"a": level(100), "b": level(20), "c": level(3)}, ["a", "b", "c", "d"])
    assert [int(heard[k][0]) for k in "abcd"] == [23, 103, 120, 123]


def test_the_sum_saturates_instead_of_wrapping() -> None:
    loud = {"a": level(30000), "b": level(30000), "c": level(-30000)}
    assert int(mix_for_each(loud, ["c"])["c"][0]) == 32767
    assert int(mix_all({"a": level(-30000), "b": level(-30000)})[0]) == -32768


def join(room: Room, **options: object) -> Member:
    member = Member(room.next_member_id(), f"call-{len(room.members)}", **options)  # type: ignore[arg-type]
    room.join(member)
    return member


def test_taps_get_the_whole_room_once_per_round() -> None:
    room = Room("MA1", "room1", "uuid")
    taped: list[int] = []
    room.taps.append(lambda frame: taped.append(int(frame[0])))
    a, b = join(room), join(room, muted=True)
    streams = [room.frames_for(a), room.frames_for(b)]
    for _ in range(2):
        a.heard(level(3))
        b.heard(level(4))
        [next(s) for s in streams]
    assert taped == [3, 3]


def test_a_round_mixes_once_per_tick_for_all_members() -> None:
    room = Room("MA1", "room1", "uuid")
    members = [join(room), join(room), join(room)]
    streams = [room.frames_for(m) for m in members]
    for tick in range(3):
        for value, member in zip((1, 10, 100), members, strict=True):
            member.heard(level(value * (tick + 1)))
        heard = [int(next(stream)[0]) for stream in streams]
        assert heard == [110 * (tick + 1), 101 * (tick + 1), 11 * (tick + 1)]


def test_a_muted_member_is_not_heard_but_hears() -> None:
    room = Room("MA1", "room1", "uuid")
    talker, muted = join(room), join(room, muted=True)
    streams = [room.frames_for(talker), room.frames_for(muted)]
    talker.heard(level(50))
    muted.heard(level(7))
    assert [int(next(s)[0]) for s in streams] == [0, 50]


def test_members_wait_until_a_member_starts_the_conference() -> None:
    room = Room("MA1", "room1", "uuid")
    wait = level(9)
    first = join(room, starts=False, wait_sound=np.concatenate([wait, level(8)]))
    second = join(room, starts=False)
    streams = [room.frames_for(first), room.frames_for(second)]
    first.heard(level(500))
    second.heard(level(600))
    assert [int(next(s)[0]) for s in streams] == [9, 0]  # wait sound / silence, nobody heard
    assert [int(next(s)[0]) for s in streams] == [8, 0]
    assert [int(next(s)[0]) for s in streams] == [9, 0]  # the wait sound loops
    moderator = join(room)
    streams.append(room.frames_for(moderator))
    for member, value in ((first, 1), (second, 2), (moderator, 4)):
        member.heard(level(value))
    assert [int(next(s)[0]) for s in streams] == [6, 5, 3]


def test_a_lone_member_hears_the_wait_sound() -> None:
    room = Room("MA1", "room1", "uuid")
    alone = join(room, wait_sound=level(42))
    assert int(next(room.frames_for(alone))[0]) == 42


def test_announced_sounds_play_over_the_mix() -> None:
    room = Room("MA1", "room1", "uuid")
    a, b = join(room), join(room)
    room.announce(np.concatenate([level(5), level(6)]), to=[b])
    streams = [room.frames_for(a), room.frames_for(b)]
    a.heard(level(100))
    assert [int(next(s)[0]) for s in streams] == [0, 105]
    assert [int(next(s)[0]) for s in streams] == [0, 6]
    assert [int(next(s)[0]) for s in streams] == [0, 0]


def test_end_conference_on_exit_sends_everyone_away() -> None:
    room = Room("MA1", "room1", "uuid")
    reasons: list[str] = []
    moderator = join(room, ends=True)
    join(room, ended=reasons.append)
    join(room, ended=reasons.append)
    room.leave(moderator)
    assert reasons == ["end_conference_on_exit"] * 2


def test_stay_alone_false_leaves_when_the_others_have_gone() -> None:
    room = Room("MA1", "room1", "uuid")
    reasons: list[str] = []
    join(room, stay_alone=False, ended=reasons.append)
    other = join(room)
    stream = room.frames_for(other)
    next(stream)
    room.leave(other)
    assert reasons == ["alone"]
    assert next(stream, None) is None  # a member who left hears nothing more


def test_rooms_belong_to_an_account_and_go_when_empty() -> None:
    rooms = Conferences()
    ids = iter(["u1", "u2", "u3"])
    room = rooms.room("MA1", "sales", lambda: next(ids))
    assert rooms.room("MA1", "sales", lambda: next(ids)) is room
    assert rooms.room("MA2", "sales", lambda: next(ids)).uuid == "u2"
    member = join(room)
    rooms.forget_if_empty(room)
    assert rooms.find("MA1", "sales") is room
    room.leave(member)
    rooms.forget_if_empty(room)
    assert rooms.find("MA1", "sales") is None
    other = rooms.find("MA2", "sales")
    assert other is not None and other.uuid == "u2"


def test_beep_sounds() -> None:
    assert len(beeps("beep:1")) == len(beep()) and len(beeps("beep:2")) == 2 * len(beep())
    assert beeps("").size == 0


def test_a_held_member_is_not_heard_and_hears_only_the_hold_music() -> None:
    room = Room("MA1", "room1", "uuid")
    a, b = join(room), join(room)
    streams = [room.frames_for(a), room.frames_for(b)]
    a.hold(True, np.concatenate([level(7), level(8)]))
    heard = []
    for _ in range(3):
        a.heard(level(100))
        b.heard(level(20))
        heard.append([int(next(s)[0]) for s in streams])
    assert heard == [[7, 0], [8, 0], [7, 0]]  # the music loops; b hears nobody
    a.hold(False)
    a.heard(level(100))
    b.heard(level(20))
    assert [int(next(s)[0]) for s in streams] == [20, 100]


def test_closed_rooms_are_kept_with_why_they_ended() -> None:
    rooms = Conferences()
    ids = iter(["u1", "u2", "u3"])

    def close(room: Room, *members: Member) -> None:
        for member in members:
            room.leave(member)
        rooms.forget_if_empty(room)

    left = rooms.room("MA1", "left", lambda: next(ids))
    close(left, join(left))
    kicked = rooms.room("MA1", "kicked", lambda: next(ids))
    moderator, other = join(kicked, ends=True), join(kicked)
    moderator.kicked = True
    close(kicked, moderator, other)
    elsewhere = rooms.room("MA2", "elsewhere", lambda: next(ids))
    close(elsewhere, join(elsewhere))

    assert [r.name for r in rooms.closed_of("MA1")] == ["kicked", "left"]
    assert left.end_reason == "last-participant-left" and left.ending_call_uuid == "call-0"
    assert kicked.end_reason == "participant-with-end-conference-on-exit-kicked"
    assert kicked.ending_call_uuid == moderator.call_uuid
    assert left.closed_at is not None and left.closed_at >= left.created
    assert [r.name for r in rooms.closed_of("MA2")] == ["elsewhere"]
