"""Conferences on real calls: PJSUA2 phones, each playing its own tone, call numbers
whose document joins one room on `callplane serve`; what each phone recorded tells
who heard whom. Action and callback URLs go to a real HTTP server."""

from __future__ import annotations

import gc
import itertools
import time
import wave
from pathlib import Path

import numpy as np

from tests.flows.examples import edge, node
from tests.interop.harness import CallplaneServer, WebhookServer
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.tones import write_tone

_numbers = itertools.count(15557700000)


def line(callplane: CallplaneServer, web: WebhookServer, document: str) -> str:
    """A new number whose answer URL returns ``document``."""
    number = str(next(_numbers))
    answer = web.set(f"/conference/answer/{number}", document)
    callplane.number(number, callplane.application(answer))
    return number


def strength(path: Path, hz: float) -> float:
    """Spectral magnitude within 20 Hz of ``hz`` in the WAV at ``path``."""
    with wave.open(str(path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
    return float(spectrum[np.abs(freqs - hz) < 20].sum())


def join_all(
    phone: UserAgent,
    callplane: CallplaneServer,
    tmp_path: Path,
    members: list[tuple[str, int]],
    gap: float = 0.3,
) -> list[tuple[UaCall, Path]]:
    """Each (number, tone) is called in turn by a phone playing that tone; wait for all."""
    calls = []
    for number, hz in members:
        heard = tmp_path / f"heard-{hz}.wav"
        tone = write_tone(tmp_path / f"tone-{hz}.wav", hz, 8)
        calls.append((phone.call(number, callplane.sip_port, record_to=heard, play=tone), heard))
        phone.poll(gap)
    for call, _ in calls:
        assert phone.wait(call, timeout=25).disconnected
    gc.collect()
    return calls


def test_every_member_hears_the_others_and_not_themselves(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    events = web.url("/conference/events/room1")
    number = line(
        callplane,
        web,
        f'<Response><Conference timeLimit="4" callbackUrl="{events}">room1</Conference></Response>',
    )
    tones = [440, 1000, 1600]
    calls = join_all(phone, callplane, tmp_path, [(number, hz) for hz in tones])
    for (call, heard), own in zip(calls, tones, strict=True):
        assert call.log.media_ready
        others = [hz for hz in tones if hz != own]
        levels = {hz: strength(heard, hz) for hz in tones}
        assert min(levels[hz] for hz in others) > 10 * levels[own], (own, levels)
    sent = web.wait_for("/conference/events/room1", count=6)
    actions = sorted(r.params["ConferenceAction"] for r in sent)
    assert actions == ["enter"] * 3 + ["exit"] * 3
    assert len({r.params["ConferenceUUID"] for r in sent}) == 1
    assert {r.params["ConferenceMemberID"] for r in sent} == {"1", "2", "3"}
    assert all(r.params["ConferenceName"] == "room1" and r.params["CallUUID"] for r in sent)


def test_a_muted_member_hears_but_is_not_heard_and_the_room_is_recorded(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    events = web.url("/conference/events/room2")
    muted = line(
        callplane,
        web,
        f'<Response><Conference muted="true" timeLimit="4" record="true" recordFileFormat="wav" '
        f'callbackUrl="{events}">room2</Conference></Response>',
    )
    talker = line(
        callplane, web, '<Response><Conference timeLimit="4">room2</Conference></Response>'
    )
    (_, muted_heard), (_, talker_heard) = join_all(
        phone, callplane, tmp_path, [(muted, 440), (talker, 1000)]
    )
    assert strength(muted_heard, 1000) > 10 * strength(muted_heard, 440)
    assert strength(talker_heard, 440) < strength(muted_heard, 1000) / 10
    sent = web.wait_for("/conference/events/room2", count=3)
    recorded = next(r.params for r in sent if r.params["ConferenceAction"] == "record")
    recording = callplane.api("GET", f"Recording/{recorded['RecordingID']}/")
    assert recording["recording_format"] == "wav" and int(recorded["RecordingDurationMs"]) > 1000


def test_end_conference_on_exit_ends_the_others_conference_and_calls_their_action(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    action = web.set("/conference/after/room3", "<Response><Hangup/></Response>")
    host = line(
        callplane,
        web,
        '<Response><Conference endConferenceOnExit="true" timeLimit="3">room3</Conference>'
        "</Response>",
    )
    guest = line(
        callplane,
        web,
        f'<Response><Conference action="{action}" timeLimit="60">room3</Conference></Response>',
    )
    started = time.monotonic()
    join_all(phone, callplane, tmp_path, [(host, 440), (guest, 1000)])
    assert time.monotonic() - started < 30  # the guest did not stay for its own time limit
    after = web.wait_for("/conference/after/room3")[0].params
    assert after["ConferenceAction"] == "exit" and after["ConferenceName"] == "room3"
    assert after["ConferenceUUID"] and after["ConferenceMemberID"] == "2"


def test_max_members_turns_the_third_caller_away(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    action = web.url("/conference/after/room4")
    number = line(
        callplane,
        web,
        f'<Response><Conference maxMembers="2" timeLimit="4" action="{action}" redirect="false">'
        "room4</Conference></Response>",
    )
    join_all(phone, callplane, tmp_path, [(number, 440), (number, 1000), (number, 1600)], gap=1)
    reported = web.wait_for("/conference/after/room4", count=3)
    by_action = sorted(r.params["ConferenceAction"] for r in reported)
    assert by_action == ["exit", "exit", "full"]
    full = next(r.params for r in reported if r.params["ConferenceAction"] == "full")
    assert full["ConferenceMemberID"] == "" and full["ConferenceName"] == "room4"


def test_a_flow_joins_a_conference_bridge(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    doc = {
        "schema": 1,
        "name": "conference",
        "nodes": [node("Start", "start"), node("Conference_1", "conference", room="room5")],
        "edges": [edge("Start", "incoming_call", "Conference_1")],
    }
    flow_id = callplane.api("POST", "Flow/", json={"document": doc})["flow_id"]
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    flow_number = str(next(_numbers))
    callplane.number(flow_number, None, flow_id=flow_id)
    action = web.url("/conference/after/room5")
    host = line(
        callplane,
        web,
        f'<Response><Conference endConferenceOnExit="true" timeLimit="4" action="{action}" '
        'redirect="false">room5</Conference></Response>',
    )
    (_, flow_heard), _ = join_all(phone, callplane, tmp_path, [(flow_number, 440), (host, 1000)])
    assert strength(flow_heard, 1000) > 10 * strength(flow_heard, 440)
    host_uuid = web.wait_for("/conference/after/room5")[0].params["ConferenceUUID"]
    runs = callplane.api("GET", f"Flow/{flow_id}/Run/")["objects"]
    run = callplane.api("GET", f"Flow/{flow_id}/Run/{runs[0]['run_id']}/")
    assert run["variables"]["Conference_1"] == {
        "conference_name": "room5",
        "conference_uuid": host_uuid,
    }
