"""The Conference API through the plivo Node SDK on a live room: two PJSUA2 phones, each
playing its own tone, join one room (as in tests/interop/test_conference_api.py); a
Node script (plivo_conference_steps.js after the guide's connection lines) lists and
reads the room, mutes one member (the other phone stops hearing its tone), unmutes it
(heard again), kicks the other and hangs up the room. Skipped without node and npm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.interop.pjua import UserAgent
from tests.interop.test_conference import strength
from tests.interop.test_conference_api import ALICE_HZ, BOB_HZ, ROOM, hear, member_call
from tests.interop.test_live_api import polling
from tests.sdks.conftest import SNIPPETS, Run

HERE = Path(__file__).parent


@pytest.fixture
def steps_script(tmp_path: Path) -> Path:
    """The guide's plivo-node connection lines, then plivo_conference_steps.js."""
    text = (SNIPPETS / "plivo_node.js").read_text()
    connected = "const client = new plivo.Client(AUTH_ID, AUTH_TOKEN);\n"
    assert connected in text
    script = tmp_path / "conference_steps.js"
    steps = (HERE / "plivo_conference_steps.js").read_text()
    script.write_text(text[: text.index(connected) + len(connected)] + steps)
    return script


def muted_of(room: dict[str, Any]) -> dict[str, bool]:
    """member_id -> muted, from a conference as the Node SDK returns it."""
    return {member["memberId"]: member["muted"] for member in room["members"]}


def test_plivo_node_lists_gets_mutes_unmutes_kicks_and_hangs_up_a_live_room(
    node_modules: Path,  # installed before run_snippet asks for it from a thread
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    run_snippet: Run,
    steps_script: Path,
    tmp_path: Path,
) -> None:
    def node(steps: str, member_id: str = "") -> dict[str, Any]:
        """Runs the steps while the phone keeps answering SIP: {step: its JSON result}."""
        env = {
            "CALLPLANE_URL": f"http://127.0.0.1:{callplane.http_port}",
            "CALLPLANE_AUTH_ID": AUTH_ID,
            "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN,
            "ROOM": ROOM,
            "MEMBER_ID": member_id,
            "STEPS": steps,
        }
        done = polling(phone, lambda: run_snippet(str(steps_script), env), timeout=60)
        assert "blocked" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stdout + done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return {line["step"]: line["result"] for line in lines}

    stay = f"<Response><Conference>{ROOM}</Conference></Response>"
    leave_then_hang_up = (
        f'<Response><Conference>{ROOM}</Conference><Wait length="1"/><Hangup/></Response>'
    )
    alice, alice_uuid = member_call(phone, callplane, web, tmp_path, stay, ALICE_HZ)
    bob, bob_uuid = member_call(phone, callplane, web, tmp_path, leave_then_hang_up, BOB_HZ)

    shown = node("list get")
    assert ROOM in shown["list"]["conferences"]
    room = shown["get"]
    assert room["conferenceName"] == ROOM and room["conferenceMemberCount"] == "2"
    members = {m["callUuid"]: m["memberId"] for m in room["members"]}
    assert set(members) == {alice_uuid, bob_uuid}
    alice_id, bob_id = members[alice_uuid], members[bob_uuid]

    before = strength(hear(phone, bob, tmp_path / "before.wav"), ALICE_HZ)
    muted = node("mute get", alice_id)
    assert muted["mute"]["message"] == "mute" and muted["mute"]["memberId"] == [alice_id]
    assert muted_of(muted["get"]) == {alice_id: True, bob_id: False}
    while_muted = hear(phone, bob, tmp_path / "muted.wav")
    alice_heard = hear(phone, alice, tmp_path / "alice.wav")
    unmuted = node("unmute get", alice_id)
    assert muted_of(unmuted["get"]) == {alice_id: False, bob_id: False}
    after = strength(hear(phone, bob, tmp_path / "after.wav"), ALICE_HZ)

    assert strength(while_muted, ALICE_HZ) * 20 < before, (strength(while_muted, ALICE_HZ), before)
    assert after > before / 3, (after, before)
    assert strength(alice_heard, BOB_HZ) > 10 * strength(alice_heard, ALICE_HZ)

    kicked = node("kick", bob_id)["kick"]
    assert kicked["message"] == "kicked" and kicked["memberId"] == [bob_id]
    assert phone.wait(bob, timeout=10).disconnected  # out of the room, its document went on
    assert node("hangup") == {"hangup": True}
    assert phone.wait(alice, timeout=10).disconnected
