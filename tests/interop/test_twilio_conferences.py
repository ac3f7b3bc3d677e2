"""Twilio's Conference and Participant resources end to end: two PJSUA2 phones, each
playing its own tone, dial one ``<Conference>`` from TwiML on `callplane serve`; the
official twilio SDK (only its base URL changed) lists and reads the conference and
its participants, mutes one (the other phone stops hearing its tone), holds one,
kicks one and completes the conference, which is then listed as completed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.interop.harness import CallplaneServer, WebhookServer
from tests.interop.pjua import UserAgent
from tests.interop.test_conference import strength
from tests.interop.test_conference_api import ALICE_HZ, BOB_HZ, hear, member_call
from tests.interop.test_live_api import polling
from tests.interop.test_twilio_rest import account_sid, twilio_client
from tests.interop.tones import write_tone

ROOM = "twilio-room"
ANNOUNCE_HZ = 2000
HOLD_HZ = 3000
# After the conference the call goes on with its TwiML: here, it hangs up.
DIAL = f"<Response><Dial><Conference>{ROOM}</Conference></Dial><Hangup/></Response>"


def call_sid(call_uuid: str) -> str:
    return "CA" + call_uuid.replace("-", "")


def refused(action: Callable[[], object]) -> tuple[int, int]:
    """The HTTP status and Twilio code ``action`` fails with. (Not ``pytest.raises ...
    as``: its traceback would keep this module's phone alive past the module, and the
    next module's pjsua2 Endpoint would find the old one.)"""
    try:
        action()
    except TwilioRestException as exc:
        return exc.status, exc.code
    raise AssertionError("the request was not refused")


def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_participants_are_listed_muted_held_kicked_and_the_conference_completed(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    client: Client = twilio_client(callplane, account_sid(callplane))
    alice, alice_uuid = member_call(phone, callplane, web, tmp_path, DIAL, ALICE_HZ)
    bob, bob_uuid = member_call(phone, callplane, web, tmp_path, DIAL, BOB_HZ)
    alice_sid, bob_sid = call_sid(alice_uuid), call_sid(bob_uuid)

    [conference] = client.conferences.list(status="in-progress", friendly_name=ROOM)
    assert conference.sid.startswith("CF") and len(conference.sid) == 34
    assert conference.status == "in-progress" and conference.reason_conference_ended is None
    assert conference.sid in [c.sid for c in client.conferences.list()]  # in-progress by default
    assert client.conferences.list(status="completed", friendly_name=ROOM) == []
    today = time.gmtime()
    assert client.conferences.list(
        date_created=f"{today.tm_year}-{today.tm_mon:02}-{today.tm_mday:02}"
    )
    room = client.conferences(conference.sid)
    assert room.fetch().friendly_name == ROOM

    participants = room.participants.list()
    assert {p.call_sid for p in participants} == {alice_sid, bob_sid}
    assert all(p.status == "connected" and p.muted is False for p in participants)
    assert all(p.conference_sid == conference.sid for p in participants)

    before = strength(hear(phone, bob, tmp_path / "before.wav"), ALICE_HZ)
    muted = polling(phone, lambda: room.participants(alice_sid).update(muted=True))
    assert muted.muted is True and muted.call_sid == alice_sid
    assert [p.call_sid for p in room.participants.list(muted=True)] == [alice_sid]
    while_muted = strength(hear(phone, bob, tmp_path / "muted.wav"), ALICE_HZ)
    polling(phone, lambda: room.participants(alice_sid).update(muted=False))
    after = strength(hear(phone, bob, tmp_path / "after.wav"), ALICE_HZ)
    assert while_muted * 20 < before, (while_muted, before)
    assert after > before / 3

    # on hold: not heard, and hears nothing of the room
    alice_hears = strength(hear(phone, alice, tmp_path / "alice.wav"), BOB_HZ)
    held = polling(phone, lambda: room.participants(alice_sid).update(hold=True))
    assert held.hold is True and room.participants(alice_sid).fetch().hold is True
    alice_held = strength(hear(phone, alice, tmp_path / "alice-held.wav"), BOB_HZ)
    bob_during_hold = strength(hear(phone, bob, tmp_path / "bob-hold.wav"), ALICE_HZ)
    polling(phone, lambda: room.participants(alice_sid).update(hold=False))
    assert alice_held * 20 < alice_hears, (alice_held, alice_hears)
    assert bob_during_hold * 20 < before, (bob_during_hold, before)

    assert refused(room.participants("CA" + "0" * 32).fetch) == (404, 20404)

    assert polling(phone, lambda: room.participants(bob_sid).delete()) is True
    assert phone.wait(bob, timeout=10).disconnected  # out of the room, its TwiML hung up
    until(lambda: [p.call_sid for p in room.participants.list()] == [alice_sid], "bob listed")

    completed = polling(phone, lambda: room.update(status="completed"))
    assert completed.status == "completed"
    assert phone.wait(alice, timeout=10).disconnected
    until(lambda: room.fetch().status == "completed", "conference still running")
    [ended] = client.conferences.list(status="completed", friendly_name=ROOM)
    assert ended.sid == conference.sid
    assert ended.reason_conference_ended == "conference-ended-via-api"
    assert client.conferences.list(status="in-progress", friendly_name=ROOM) == []
    assert refused(room.participants(alice_sid).fetch) == (404, 20404)
    assert refused(client.conferences("CF" + "0" * 32).fetch) == (404, 20404)


def test_an_announcement_is_heard_and_a_participant_who_ends_it_ends_the_conference(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    client: Client = twilio_client(callplane, account_sid(callplane))
    room_name = "twilio-room-2"
    dial = f"<Response><Dial><Conference>{room_name}</Conference></Dial><Hangup/></Response>"
    alice, alice_uuid = member_call(phone, callplane, web, tmp_path, dial, ALICE_HZ)
    bob, _ = member_call(phone, callplane, web, tmp_path, dial, BOB_HZ)
    alice_sid = call_sid(alice_uuid)
    [conference] = client.conferences.list(friendly_name=room_name)
    room = client.conferences(conference.sid)

    tone = write_tone(tmp_path / "announce.wav", ANNOUNCE_HZ, 4).read_bytes()
    announce_url = web.set("/conf-api/announce.wav", tone, content_type="audio/wav")
    quiet = strength(hear(phone, bob, tmp_path / "quiet.wav"), ANNOUNCE_HZ)
    polling(phone, lambda: room.update(announce_url=announce_url))
    announced = strength(hear(phone, bob, tmp_path / "announced.wav"), ANNOUNCE_HZ)
    assert announced > 20 * quiet, (announced, quiet)
    twiml = web.set("/conf-api/not-audio.xml", "<Response><Say>hi</Say></Response>")
    assert refused(lambda: room.update(announce_url=twiml)) == (400, 21100)

    music = write_tone(tmp_path / "hold.wav", HOLD_HZ, 2).read_bytes()
    hold_url = web.set("/conf-api/hold.wav", music, content_type="audio/wav")
    silent = strength(hear(phone, alice, tmp_path / "no-music.wav"), HOLD_HZ)
    polling(phone, lambda: room.participants(alice_sid).update(hold=True, hold_url=hold_url))
    on_hold = strength(hear(phone, alice, tmp_path / "music.wav"), HOLD_HZ)
    polling(phone, lambda: room.participants(alice_sid).update(hold=False))
    assert on_hold > 20 * silent, (on_hold, silent)  # the music loops while she waits

    ends = polling(phone, lambda: room.participants(alice_sid).update(end_conference_on_exit=True))
    assert ends.end_conference_on_exit is True
    polling(phone, lambda: room.participants(alice_sid).delete())
    assert phone.wait(alice, timeout=10).disconnected
    assert phone.wait(bob, timeout=10).disconnected  # the conference ended with her
    until(lambda: room.fetch().status == "completed", "conference still running")
    ended = room.fetch()
    assert ended.reason_conference_ended == "participant-with-end-conference-on-exit-kicked"
    assert ended.call_sid_ending_conference == alice_sid
