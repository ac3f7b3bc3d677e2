"""Conference against the real rooms (``media/conference.py``), with in-memory callers."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from callplane.calls.call import Call
from callplane.markup.verbs import Conference
from callplane.media.pcm import beep
from callplane.verbs import EXECUTORS
from callplane.verbs.base import NEXT, NewDocument
from tests.verbs.fakes import AUTH_ID, FakeLeg, FakeServices, new_call, pcm_level, until

ROOM = "standup"
ACTION = "http://app.test/conference-action"
EVENTS = "http://app.test/conference-events"


def join(services: FakeServices, verb: Conference) -> tuple[Call, FakeLeg]:
    """A new caller running ``verb`` in its own task (``call.task``), as the session loop does."""
    leg = FakeLeg()
    call = new_call(services, leg)
    call.task = asyncio.ensure_future(EXECUTORS[Conference](call, verb))  # type: ignore[assignment]
    return call, leg


def members(services: FakeServices) -> int:
    room = services.conferences.find(AUTH_ID, ROOM)
    return len(room.members) if room else 0


def levels(leg: FakeLeg) -> set[int]:
    return {int(v) for v in np.unique(leg.session.played_pcm())}


def events_of(services: FakeServices, call: Call) -> list[dict[str, Any]]:
    return [r.params for r in services.webhooks.to(EVENTS) if r.params["CallUUID"] == call.uuid]


async def test_members_hear_each_other_not_themselves_and_star_leaves(
    services: FakeServices,
) -> None:
    services.webhooks.answer(ACTION, "<Response><Speak>bye</Speak></Response>")
    verb = Conference(ROOM, hangup_on_star=True, action=ACTION, callback_url=EVENTS)
    alice, alice_leg = join(services, verb)
    alice_leg.session.caller_says(pcm_level(1000, 500))
    await until(lambda: members(services) == 1)
    bob, bob_leg = join(services, verb)
    bob_leg.session.caller_says(pcm_level(2000, 50))
    bob_leg.session.caller_sends("*")

    bob_outcome = await bob.task

    assert isinstance(bob_outcome, NewDocument)  # the action URL's document runs next
    assert members(services) == 1 and not bob.ended
    assert 2000 in levels(alice_leg) and levels(alice_leg) <= {0, 2000}
    assert 1000 in levels(bob_leg) and levels(bob_leg) <= {0, 1000}
    alice.remote_hangup()
    with pytest.raises(asyncio.CancelledError):
        await alice.task
    await services.settle()

    assert services.conferences.rooms == {}  # forgotten once empty
    bob_action = services.webhooks.one(ACTION).params
    assert bob_action["ConferenceAction"] == "exit" and bob_action["ConferenceName"] == ROOM
    assert bob_action["ConferenceMemberID"] == "2" and bob_action["CallUUID"] == bob.uuid
    room_uuid = bob_action["ConferenceUUID"]
    assert room_uuid
    for call, member_id in ((alice, "1"), (bob, "2")):
        events = events_of(services, call)
        assert [e["ConferenceAction"] for e in events] == ["enter", "exit"]
        assert {(e["ConferenceUUID"], e["ConferenceMemberID"]) for e in events} == {
            (room_uuid, member_id)
        }
    assert alice_leg.codes == bob_leg.codes == [200]


async def test_a_full_room_turns_the_caller_away(services: FakeServices) -> None:
    services.webhooks.answer(ACTION, "<Response><Hangup/></Response>")
    first, _ = join(services, Conference(ROOM, max_members=1))
    await until(lambda: members(services) == 1)

    late, late_leg = join(services, Conference(ROOM, max_members=1, action=ACTION))
    assert isinstance(await late.task, NewDocument)

    params = services.webhooks.one(ACTION).params
    assert params["ConferenceAction"] == "full"
    assert (params["ConferenceUUID"], params["ConferenceMemberID"]) == ("", "")
    assert members(services) == 1 and late_leg.session.played == []
    first.remote_hangup()
    await asyncio.gather(first.task, return_exceptions=True)


async def test_a_member_with_end_conference_on_exit_sends_everyone_away(
    services: FakeServices,
) -> None:
    listener, _ = join(services, Conference(ROOM))
    await until(lambda: members(services) == 1)
    host, _ = join(services, Conference(ROOM, end_conference_on_exit=True, time_limit=2))

    assert await host.task == NEXT  # time limit: no action URL, the next verb runs
    assert await listener.task == NEXT  # sent away when the host left
    assert services.conferences.rooms == {}
    assert "end_conference_on_exit" in " ".join(e["message"] for e in listener.record.events)
    assert "time_limit" in " ".join(e["message"] for e in host.record.events)


async def test_a_lone_member_hears_the_wait_sound_and_the_enter_beep_is_played_to_the_room(
    services: FakeServices,
) -> None:
    music = "http://app.test/wait-music"
    services.webhooks.answer(music, "<Response><Play>http://media.test/hold.wav</Play></Response>")
    services.audio.files["http://media.test/hold.wav"] = pcm_level(777, 5)
    first, first_leg = join(services, Conference(ROOM, wait_sound=music))
    await until(lambda: len(first_leg.session.played) >= 20)

    assert levels(first_leg) == {777}  # alone: the wait sound, looped
    second, _ = join(services, Conference(ROOM, enter_sound="beep:1", time_limit=1))
    assert await second.task == NEXT

    heard = first_leg.session.played_pcm()
    tone = beep()[:800]  # the start of the beep, mixed over what the first member heard
    assert any(np.array_equal(heard[i : i + 800], tone) for i in range(0, len(heard) - 800, 160))
    first.remote_hangup()
    await asyncio.gather(first.task, return_exceptions=True)


async def test_recording_the_room_saves_the_mix_and_reports_it(services: FakeServices) -> None:
    verb = Conference(
        ROOM,
        record=True,
        record_file_format="wav",
        callback_url=EVENTS,
        action=ACTION,
        redirect=False,
        time_limit=1,
    )
    services.webhooks.answer(ACTION, "<Response/>")
    other, other_leg = join(services, Conference(ROOM))
    other_leg.session.caller_says(pcm_level(1500, 200))
    await until(lambda: members(services) == 1)
    recorder, _ = join(services, verb)

    assert await recorder.task == NEXT
    await services.settle()

    (recording,) = services.recordings
    assert recording.call_uuid == recorder.uuid and recording.recording_format == "wav"
    assert 900 <= recording.recording_duration_ms <= 1000
    record_event = [e for e in events_of(services, recorder) if e["ConferenceAction"] == "record"]
    assert record_event[0]["RecordingID"] == recording.recording_id
    assert services.webhooks.one(ACTION).params["RecordingID"] == recording.recording_id
    other.remote_hangup()
    await asyncio.gather(other.task, return_exceptions=True)


async def test_keys_matching_digits_match_are_reported_to_the_callback_url(
    services: FakeServices,
) -> None:
    verb = Conference(ROOM, digits_match="12,99", callback_url=EVENTS, time_limit=2)
    member, member_leg = join(services, verb)
    member_leg.session.caller_sends(None, "1", "2", "5", "9", "9")

    assert await member.task == NEXT

    actions = [e["ConferenceAction"] for e in events_of(services, member)]
    assert actions == ["enter", "digits", "digits", "exit"]
    matched = [
        e["ConferenceDigitsMatch"]
        for e in events_of(services, member)
        if "ConferenceDigitsMatch" in e
    ]
    assert matched == ["12", "99"]
