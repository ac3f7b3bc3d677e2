"""Conference control (``control/conference.py``) over the real rooms, with members
joined by the real ``<Conference>`` executor and in-memory callers (``tests/verbs``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from callplane.calls.call import Call
from callplane.calls.conference_views import ALL_MEMBERS
from callplane.control.conference import ConferenceControl
from callplane.markup.verbs import Conference
from callplane.media.errors import FetchError
from callplane.verbs import EXECUTORS
from callplane.verbs.base import NEXT
from tests.verbs.fakes import AUTH_ID, FakeLeg, FakeServices, new_call, pcm_level, until

ROOM = "standup"
OTHER_ACCOUNT = "MAOTHERACCOUNT00000"
TALK = 1500  # frames each caller keeps talking (30 s)


@dataclass
class LiveServices(FakeServices):
    """The fakes plus the live-call index that ``Services`` keeps."""

    live: dict[str, Call] = field(default_factory=dict)
    guests: dict[str, Call] = field(default_factory=dict)


@pytest.fixture
def services(tmp_path: Path) -> LiveServices:
    return LiveServices(tmp_path)


@pytest.fixture
def control(services: LiveServices) -> ConferenceControl:
    return ConferenceControl(services)


async def join(
    services: LiveServices, level: int, verb: Conference | None = None
) -> tuple[Call, FakeLeg]:
    """A caller saying ``level`` who joins the room, live as the router makes calls."""
    leg = FakeLeg()
    call = new_call(services, leg)
    services.live[call.uuid] = call
    leg.session.caller_says(pcm_level(level, TALK))
    before = len(room_members(services))
    call.task = asyncio.ensure_future(EXECUTORS[Conference](call, verb or Conference(ROOM)))  # type: ignore[assignment]
    await until(lambda: len(room_members(services)) > before)
    return call, leg


def room_members(services: LiveServices) -> list[str]:
    room = services.conferences.find(AUTH_ID, ROOM)
    return list(room.members) if room else []


async def heard_next(leg: FakeLeg, seconds: float = 1.0) -> set[int]:
    """The sample values ``leg``'s caller hears over the next ``seconds``."""
    start = len(leg.session.played)
    await asyncio.sleep(seconds)
    frames = leg.session.played[start + 2 :]  # a frame or two may have been mixed before
    return {int(v) for v in np.unique(np.concatenate(frames))}


async def leave(*calls: Call) -> None:
    for call in calls:
        if not call.ended:
            call.remote_hangup()
    await asyncio.gather(*(c.task for c in calls if c.task), return_exceptions=True)


async def test_an_account_reads_its_rooms_and_members_and_nobody_else_does(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, _ = await join(services, 1000)
    bob, _ = await join(services, 2000)

    assert control.names(AUTH_ID) == [ROOM]
    view = control.get(AUTH_ID, ROOM)
    assert view is not None and view.name == ROOM and view.uuid
    assert [(m.member_id, m.call_uuid) for m in view.members] == [
        ("1", alice.uuid),
        ("2", bob.uuid),
    ]
    first = view.members[0]
    assert (first.from_number, first.to_number, first.direction) == (
        alice.record.from_number,
        alice.record.to_number,
        "inbound",
    )
    assert not first.muted and not first.deaf and first.joined_seconds >= 0
    assert control.names(OTHER_ACCOUNT) == [] and control.get(OTHER_ACCOUNT, ROOM) is None
    assert control.mute(OTHER_ACCOUNT, ROOM, ALL_MEMBERS, True) is None
    assert control.hangup(OTHER_ACCOUNT, ROOM) is False
    assert not alice.ended and not bob.ended
    await leave(alice, bob)


async def test_a_muted_member_is_not_heard_until_unmuted(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, alice_leg = await join(services, 1000)
    bob, bob_leg = await join(services, 2000)
    assert 1000 in await heard_next(bob_leg)

    assert control.mute(AUTH_ID, ROOM, ("1",), True) == ["1"]
    assert await heard_next(bob_leg) == {0}
    assert 2000 in await heard_next(alice_leg)  # a muted member still hears
    assert control.get(AUTH_ID, ROOM).members[0].muted  # type: ignore[union-attr]

    assert control.mute(AUTH_ID, ROOM, ("1",), False) == ["1"]
    assert 1000 in await heard_next(bob_leg)
    await leave(alice, bob)


async def test_a_deaf_member_hears_nothing_but_is_heard(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, alice_leg = await join(services, 1000)
    bob, bob_leg = await join(services, 2000)

    assert control.deafen(AUTH_ID, ROOM, ("2",), True) == ["2"]
    assert await heard_next(bob_leg) == {0}
    assert 2000 in await heard_next(alice_leg)

    assert control.deafen(AUTH_ID, ROOM, ("2",), False) == ["2"]
    assert 1000 in await heard_next(bob_leg)
    await leave(alice, bob)


async def test_unknown_members_and_lists_and_all(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, _ = await join(services, 1000)
    bob, _ = await join(services, 2000)

    assert control.mute(AUTH_ID, ROOM, ("9",), True) == []
    assert control.mute(AUTH_ID, ROOM, ("2", "9", "2"), True) == ["2"]
    assert control.mute(AUTH_ID, "nosuchroom", ("1",), True) is None
    assert control.deafen(AUTH_ID, ROOM, ALL_MEMBERS, True) == ["1", "2"]
    view = control.get(AUTH_ID, ROOM)
    assert view is not None
    assert [(m.muted, m.deaf) for m in view.members] == [(False, True), (True, True)]
    await leave(alice, bob)


async def test_a_kicked_member_leaves_and_the_call_goes_on(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, _ = await join(services, 1000)
    bob, _ = await join(services, 2000)

    assert control.kick(AUTH_ID, ROOM, ("2",)) == ["2"]

    assert await bob.task == NEXT  # the verbs after <Conference> run
    assert not bob.ended and room_members(services) == ["1"]
    assert "kicked" in " ".join(e["message"] for e in bob.record.events)
    await leave(alice, bob)


async def test_hanging_up_a_member_or_the_conference_ends_the_calls(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, alice_leg = await join(services, 1000)
    bob, bob_leg = await join(services, 2000)
    carol, carol_leg = await join(services, 3000)

    assert control.hangup_members(AUTH_ID, ROOM, ("3",)) == ["3"]
    await until(lambda: carol.ended)
    assert carol_leg.byes == 1 and room_members(services) == ["1", "2"]

    assert control.hangup_all(AUTH_ID) == [ROOM]
    await until(lambda: alice.ended and bob.ended)
    await services.settle()
    assert alice_leg.byes == bob_leg.byes == 1
    assert services.conferences.rooms == {} and control.names(AUTH_ID) == []


async def test_play_and_speak_go_over_what_the_chosen_member_hears(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, alice_leg = await join(services, 1000)
    bob, bob_leg = await join(services, 2000)
    services.audio.files["http://media.test/notice.wav"] = pcm_level(300, 100)

    assert await control.play(AUTH_ID, ROOM, ("2",), "http://media.test/notice.wav") == ["2"]
    assert 1300 in await heard_next(bob_leg)  # the notice mixed over alice
    assert 300 not in {v % 1000 for v in await heard_next(alice_leg, 0.5)}
    assert await control.stop_audio(AUTH_ID, ROOM, ("2",)) == ["2"]
    assert await heard_next(bob_leg) == {1000}

    services.tts.sounds["five minutes left"] = pcm_level(40, 100)
    spoken = await control.speak(
        AUTH_ID, ROOM, ALL_MEMBERS, "five minutes left", voice="MAN", language="en-GB"
    )
    assert spoken == ["1", "2"]
    assert services.tts.calls[-1] == ("five minutes left", "MAN", "en-GB")
    assert 1040 in await heard_next(bob_leg) and 2040 in await heard_next(alice_leg)

    with pytest.raises(FetchError):
        await control.play(AUTH_ID, ROOM, ("1",), "http://media.test/missing.wav")
    assert await control.play(AUTH_ID, ROOM, ("7",), "http://media.test/notice.wav") == []
    await leave(alice, bob)


async def test_recording_keeps_the_room_until_stopped_and_reports_it(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, _ = await join(services, 1000)
    bob, _ = await join(services, 2000)
    events = "http://app.test/conference-recording"

    started = control.record(AUTH_ID, ROOM, file_format="wav", callback_url=events)
    assert started is not None and started.url.endswith(f"/Recording/{started.recording_id}.wav")
    again = control.record(AUTH_ID, ROOM, file_format="wav")
    assert again == started  # already recording: the same recording
    await asyncio.sleep(2)
    assert await control.record_stop(AUTH_ID, ROOM)
    assert not await control.record_stop(AUTH_ID, ROOM)  # nothing recording any more
    await services.settle()

    (recording,) = services.recordings
    room = services.conferences.find(AUTH_ID, ROOM)
    assert room is not None and recording.call_uuid == room.uuid and room.closing == []
    assert room.taps == []
    assert recording.recording_id == started.recording_id
    assert recording.recording_type == "conference" and recording.recording_format == "wav"
    assert 1900 <= recording.recording_duration_ms <= 2100
    assert Path(recording.path).is_file()
    sent = services.webhooks.one(events).params
    assert sent["recording_id"] == recording.recording_id and sent["conference_name"] == ROOM
    assert sent["record_url"] == started.url and sent["recording_duration_ms"] == str(
        recording.recording_duration_ms
    )
    await leave(alice, bob)


async def test_a_recording_is_saved_when_the_room_closes(
    services: LiveServices, control: ConferenceControl
) -> None:
    alice, _ = await join(services, 1000)
    assert control.record(AUTH_ID, ROOM, file_format="wav") is not None
    await asyncio.sleep(1)

    await leave(alice)
    await services.settle()

    (recording,) = services.recordings
    assert recording.recording_type == "conference" and recording.recording_duration_ms >= 900
    assert control.record(AUTH_ID, ROOM, file_format="wav") is None  # the room is gone
