"""The Conference REST API end to end: two PJSUA2 phones, each playing its own tone,
join one room on `callplane serve`; the plivo SDK lists and reads the room, mutes a
member (the other phone stops hearing its tone), unmutes, records, kicks one member
and hangs up the conference."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import httpx
import pjsua2 as pj
import plivo
import pytest
from plivo import exceptions

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.test_conference import strength
from tests.interop.test_live_api import polling
from tests.interop.tones import write_tone

ROOM = "api-room"
ALICE_HZ, BOB_HZ = 440, 1000
_numbers = iter(range(15553370000, 15553379999))


def member_call(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    tmp_path: Path,
    document: str,
    hz: int,
) -> tuple[UaCall, str]:
    """A phone playing a ``hz`` tone calls a new number answering ``document``: (call, uuid)."""
    number = str(next(_numbers))
    callplane.number(number, callplane.application(web.set(f"/conf-api/{number}", document)))
    tone = write_tone(tmp_path / f"tone-{hz}.wav", hz, 40)
    call = phone.call(number, callplane.sip_port, play=tone)
    deadline = time.monotonic() + 10
    while not (call.log.media_ready and ("CONFIRMED", 200) in call.log.states):
        assert time.monotonic() < deadline and not call.log.disconnected, call.log.states
        phone.poll(0.05)
    return call, web.wait_for(f"/conf-api/{number}")[0].params["CallUUID"]


def hear(phone: UserAgent, call: UaCall, path: Path, seconds: float = 1.5) -> Path:
    """Record what ``call``'s phone hears for ``seconds`` (after 0.3 s for jitter buffers)."""
    phone.poll(0.3)
    recorder = pj.AudioMediaRecorder()
    recorder.createRecorder(str(path))
    media = call.getAudioMedia(-1)
    media.startTransmit(recorder)
    phone.poll(seconds)
    media.stopTransmit(recorder)
    del recorder  # pjmedia completes the WAV file on destroy
    gc.collect()
    return path


def members_of(sdk: plivo.RestClient) -> dict[str, str]:
    """call_uuid -> member_id of the room's members."""
    return {m.call_uuid: m.member_id for m in sdk.conferences.get(ROOM).members}


def test_members_are_listed_muted_unmuted_recorded_kicked_and_hung_up(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    stay = f"<Response><Conference>{ROOM}</Conference></Response>"
    leave_then_hang_up = (
        f'<Response><Conference>{ROOM}</Conference><Wait length="1"/><Hangup/></Response>'
    )
    alice, alice_uuid = member_call(phone, callplane, web, tmp_path, stay, ALICE_HZ)
    bob, bob_uuid = member_call(phone, callplane, web, tmp_path, leave_then_hang_up, BOB_HZ)

    assert ROOM in sdk.conferences.list().conferences
    room = sdk.conferences.get(ROOM)
    assert room.conference_name == ROOM and room.conference_member_count == "2"
    members = members_of(sdk)
    assert set(members) == {alice_uuid, bob_uuid}
    alice_id, bob_id = members[alice_uuid], members[bob_uuid]
    alice_shown = next(m for m in room.members if m.call_uuid == alice_uuid)
    assert alice_shown.muted is False and alice_shown.deaf is False
    assert "14155550100" in getattr(alice_shown, "from")

    recording = sdk.conferences.record(ROOM, file_format="wav")
    assert recording.message == "conference recording started"
    before = strength(hear(phone, bob, tmp_path / "before.wav"), ALICE_HZ)

    muted = polling(phone, lambda: sdk.conferences.member_mute(ROOM, alice_id))
    assert muted.message == "mute" and muted.member_id == [alice_id]
    assert next(m for m in sdk.conferences.get(ROOM).members if m.member_id == alice_id).muted
    while_muted = hear(phone, bob, tmp_path / "muted.wav")
    alice_heard = hear(phone, alice, tmp_path / "alice.wav")

    polling(phone, lambda: sdk.conferences.member_mute_stop(ROOM, alice_id))
    after = strength(hear(phone, bob, tmp_path / "after.wav"), ALICE_HZ)
    polling(phone, lambda: sdk.conferences.record_stop(ROOM))

    assert strength(while_muted, ALICE_HZ) * 20 < before, (strength(while_muted, ALICE_HZ), before)
    assert after > before / 3
    # a muted member still hears (the others, never themselves)
    assert strength(alice_heard, BOB_HZ) > 10 * strength(alice_heard, ALICE_HZ)
    stored = sdk.recordings.get(recording.recording_id)
    assert stored.recording_type == "conference" and float(stored.recording_duration_ms) > 3000

    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.conferences.member_mute(ROOM, "999")
    polling(phone, lambda: sdk.conferences.member_kick(ROOM, bob_id))
    assert phone.wait(bob, timeout=10).disconnected  # out of the room, its document went on
    assert members_of(sdk) == {alice_uuid: alice_id}

    polling(phone, lambda: sdk.conferences.hangup(ROOM))
    assert phone.wait(alice, timeout=10).disconnected
    deadline = time.monotonic() + 5
    while ROOM in sdk.conferences.list().conferences and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ROOM not in sdk.conferences.list().conferences
    with pytest.raises(exceptions.ResourceNotFoundError):
        sdk.conferences.get(ROOM)


def test_a_sub_account_sees_only_its_own_rooms(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    stay = f"<Response><Conference>{ROOM}</Conference></Response>"
    call, _ = member_call(phone, callplane, web, tmp_path, stay, ALICE_HZ)
    sub = callplane.api("POST", "Subaccount/", json={"name": "conference-sub", "enabled": True})
    base = f"http://127.0.0.1:{callplane.http_port}/v1/Account"
    as_sub = httpx.get(
        f"{base}/{sub['auth_id']}/Conference/", auth=(sub["auth_id"], sub["auth_token"])
    )
    assert as_sub.status_code == 200 and as_sub.json()["conferences"] == []
    denied = httpx.get(
        f"{base}/{sub['auth_id']}/Conference/{ROOM}/", auth=(sub["auth_id"], sub["auth_token"])
    )
    assert denied.status_code == 404
    as_main = httpx.get(f"{base}/{AUTH_ID}/Conference/{ROOM}/", auth=(AUTH_ID, AUTH_TOKEN))
    assert as_main.json()["conference_member_count"] == "1"
    call.hangup(pj.CallOpParam(True))
    assert phone.wait(call, timeout=10).disconnected
