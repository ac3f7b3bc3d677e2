"""The call inspector (issue 16) end to end: SIPp calls a running `callplane serve`
whose documents come from a real webhook server; the trace and the Debugger are
read back through the REST API."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    LAB,
    CallplaneServer,
    SippUas,
    WebhookServer,
    free_port,
    sipp,
)

REJECT = '<Response><Hangup reason="rejected"/></Response>'
_numbers = itertools.count(15550300000)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    """A server that keeps every call's trace, with a short answer timeout."""
    extra = (*LAB, "--trace", "all", "--answer-timeout", "1")
    server = CallplaneServer(tmp_path_factory.mktemp("traced"), extra=extra).start()
    yield server
    assert server.stop() == 0, server.logs()


def _line(server: CallplaneServer, web: WebhookServer, answer_url: str, **fields: Any) -> str:
    number = str(next(_numbers))
    app_id = server.application(answer_url, **fields)
    server.number(number, app_id)
    return number


def _get(server: CallplaneServer, path: str, **params: str) -> httpx.Response:
    return httpx.get(server.api_base + path, params=params, auth=(AUTH_ID, AUTH_TOKEN), timeout=10)


def call_uuid_of(server: CallplaneServer, number: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = server.api("GET", "Call/", params={"to_number": number})["objects"]
        ended = [c for c in calls if c["call_state"] != "live"] if calls else []
        if ended:
            return str(ended[0]["call_uuid"])
        time.sleep(0.05)
    raise AssertionError(f"no ended call to {number}")


def wait_trace(server: CallplaneServer, call_uuid: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = _get(server, f"Call/{call_uuid}/Trace/")
        if response.status_code == 200:
            document: dict[str, Any] = response.json()
            return document
        assert response.status_code == 404, response.text
        time.sleep(0.05)
    raise AssertionError(f"no trace of {call_uuid}")


def test_a_refused_call_shows_its_sip_ladder(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    number = _line(traced, web, web.set(f"/inspect/refuse/{time.monotonic_ns()}", REJECT))
    caller = sipp(workdir, "uac_final.xml", traced.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    call_uuid = call_uuid_of(traced, number)
    trace = wait_trace(traced, call_uuid)
    assert trace["call_uuid"] == call_uuid and trace["mode"] == "all"
    assert [p["id"] for p in trace["parties"]][:2] == ["caller", "callplane"]
    labels = [m["label"] for m in trace["sip"]]
    assert labels[0] == "INVITE" and labels[-1] == "ACK", labels
    assert labels.index("100 Trying") < labels.index("603 Decline") < labels.index("ACK")
    invite = trace["sip"][0]
    assert invite["from"] == "caller" and invite["to"] == "callplane"
    assert invite["direction"] == "in" and invite["transport"] == "udp"
    assert invite["method"] == "INVITE" and invite["cseq"] == "1 INVITE"
    assert invite["text"].startswith("INVITE sip:")
    decline = trace["sip"][labels.index("603 Decline")]
    assert decline["status"] == 603 and decline["from"] == "callplane"
    times = [m["t_ms"] for m in trace["sip"]]
    assert times == sorted(times) and times[0] == 0.0
    answer = trace["webhooks"][0]
    assert answer["kind"] == "answer" and answer["outcome"] == "ok" and answer["signed"]
    assert answer["params"]["CallUUID"] == call_uuid
    assert answer["attempts"][0]["status"] == 200 and "Hangup" in answer["attempts"][0]["body"]
    assert [v["name"] for v in trace["verbs"]] == ["Reject"]
    text = _get(traced, f"Call/{call_uuid}/Trace/", format="text")
    assert text.headers["content-type"].startswith("text/plain")
    assert f"-> 127.0.0.1:{traced.sip_port} (udp)\nINVITE sip:" in text.text
    # refused on purpose by its document: not an error (Twilio's Debugger agrees)
    assert traced.api("GET", "Debugger/", params={"call_uuid": call_uuid})["objects"] == []


def test_an_answer_url_timeout_shows_the_attempt_the_fallback_and_a_debugger_entry(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    stamp = time.monotonic_ns()
    slow = web.set(f"/inspect/slow/{stamp}", REJECT, delay=3.0)  # --answer-timeout 1
    fallback = web.set(f"/inspect/fallback/{stamp}", REJECT)
    number = _line(traced, web, slow, fallback_answer_url=fallback)
    caller = sipp(workdir, "uac_final.xml", traced.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    call_uuid = call_uuid_of(traced, number)
    trace = wait_trace(traced, call_uuid)
    hooks = {hook["kind"]: hook for hook in trace["webhooks"]}
    answer, backup = hooks["answer"], hooks["fallback"]
    assert answer["url"] == slow and answer["outcome"] == "failed"
    assert answer["attempts"] and all(a["status"] is None for a in answer["attempts"])
    assert "timeout" in answer["attempts"][-1]["error"].lower()
    assert answer["attempts"][-1]["latency_ms"] >= 900
    assert backup["url"] == fallback and backup["outcome"] == "ok"
    assert backup["attempts"][0]["status"] == 200
    assert backup["t_ms"] >= answer["t_ms"] + 900
    events = traced.api("GET", "Debugger/", params={"call_uuid": call_uuid})["objects"]
    timeouts = [e for e in events if e["kind"] == "webhook_timeout"]
    assert len(timeouts) == 1 and timeouts[0]["level"] == "error", events
    assert slow in timeouts[0]["message"]
    listed = traced.api("GET", "Debugger/", params={"level": "error", "kind": "webhook_timeout"})
    assert call_uuid in [e["call_uuid"] for e in listed["objects"]]


def test_a_bridged_call_shows_both_legs_their_messages_and_quality(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    document = f'<Response><Dial timeLimit="2"><User>{callee.uri()}</User></Dial></Response>'
    number = _line(traced, web, web.set(f"/inspect/dial/{time.monotonic_ns()}", document))
    tone = workdir / "tone.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "u-law",
            str(tone),
            "synth",
            "4",
            "sine",
            "440",
        ],
        check=True,
    )
    caller = sipp(
        workdir,
        "uac_dial_answered_rtp.xml",
        traced.sip_port,
        to=number,
        audio=tone,
        extra=("-mp", str(free_port())),
    )
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0
    call_uuid = call_uuid_of(traced, number)
    trace = wait_trace(traced, call_uuid)
    parties = {p["id"]: p for p in trace["parties"]}
    assert list(parties)[:3] == ["caller", "callplane", "b1"]
    b_leg = parties["b1"]
    assert b_leg["address"] == f"127.0.0.1:{callee.port}" and b_leg["call_uuid"]
    to_callee = [m["label"] for m in trace["sip"] if "b1" in (m["from"], m["to"])]
    assert to_callee[0] == "INVITE" and "180 Ringing" in to_callee and "ACK" in to_callee
    assert "200 OK" in to_callee and "BYE" in to_callee, to_callee
    invite = next(m for m in trace["sip"] if m["to"] == "b1")
    assert invite["from"] == "callplane" and invite["direction"] == "out"
    quality = {q["party"]: q for q in trace["quality"]}
    assert set(quality) == {"caller", "b1"}, trace["quality"]
    caller_leg, callee_leg = quality["caller"], quality["b1"]
    assert caller_leg["packets_received"] > 0 and callee_leg["packets_sent"] > 0
    assert caller_leg["mos"] is not None and 1.0 <= caller_leg["mos"] <= 4.5
    assert [v["name"] for v in trace["verbs"]] == ["Dial"]
    assert trace["verbs"][0]["end_ms"] > trace["verbs"][0]["start_ms"]


def test_a_digest_authorization_is_redacted(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_digest_challenge.xml", user="trunkuser")
    twiml = (
        '<Response><Dial timeLimit="1">'
        f'<Sip username="trunkuser" password="s3cret">{callee.uri()}</Sip></Dial></Response>'
    )
    number = _line(traced, web, web.set(f"/inspect/digest/{time.monotonic_ns()}", twiml))
    caller = sipp(workdir, "uac_dial_answered.xml", traced.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    sent = callee.result()
    assert sent.returncode == 0, sent.output
    response = sent.output.split("Authorization:", 1)[1].split("response=", 1)[1][:34]
    call_uuid = call_uuid_of(traced, number)
    trace = wait_trace(traced, call_uuid)
    invites = [m for m in trace["sip"] if m["to"] == "b1" and m["method"] == "INVITE"]
    assert len(invites) >= 2, [m["label"] for m in trace["sip"]]
    header = next(
        line for line in invites[-1]["text"].split("\r\n") if line.startswith("Authorization:")
    )
    assert header.startswith('Authorization: Digest username="trunkuser"'), header
    assert "redacted" in header and "response=" not in header and "nonce=" not in header
    exported = _get(traced, f"Call/{call_uuid}/Trace/", format="text").text
    assert response.strip('"') not in exported and "5e1f0c2a9b7d" not in header


def test_a_sub_account_cannot_read_its_parents_trace(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    number = _line(traced, web, web.set(f"/inspect/own/{time.monotonic_ns()}", REJECT))
    assert sipp(workdir, "uac_final.xml", traced.sip_port, to=number, code=603).returncode == 0
    call_uuid = call_uuid_of(traced, number)
    wait_trace(traced, call_uuid)
    sub = traced.api(
        "POST", "Subaccount/", json={"name": f"sub-{time.monotonic_ns()}", "enabled": True}
    )
    auth = (sub["auth_id"], sub["auth_token"])
    base = f"http://127.0.0.1:{traced.http_port}/v1/Account/{sub['auth_id']}/"
    refused = httpx.get(f"{base}Call/{call_uuid}/Trace/", auth=auth, timeout=10)
    assert refused.status_code == 404 and "error" in refused.json()
    listed = httpx.get(f"{base}Debugger/", params={"call_uuid": call_uuid}, auth=auth, timeout=10)
    assert listed.status_code == 200 and listed.json()["objects"] == []


def test_trace_off_stores_nothing(
    tmp_path_factory: pytest.TempPathFactory, web: WebhookServer, workdir: Path
) -> None:
    data = tmp_path_factory.mktemp("untraced")
    server = CallplaneServer(data, extra=(*LAB, "--trace", "off")).start()
    try:
        number = _line(server, web, web.set(f"/inspect/off/{time.monotonic_ns()}", REJECT))
        assert sipp(workdir, "uac_final.xml", server.sip_port, to=number, code=603).returncode == 0
        call_uuid = call_uuid_of(server, number)
        assert _get(server, f"Call/{call_uuid}/Trace/").status_code == 404
        assert server.api("GET", "Debugger/")["objects"] == []
    finally:
        assert server.stop() == 0, server.logs()
    with sqlite3.connect(data / "callplane.db") as db:
        counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]
    assert counts == [0, 0]


TABLES = ("call_traces", "debugger_events")


def test_by_default_only_failed_calls_keep_a_trace(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    """``callplane`` runs with the defaults: ``--trace failed``. A call that ends well
    and one its document refuses on purpose keep none; one whose document is invalid
    keeps its trace."""
    stamp = time.monotonic_ns()
    fine = _line(
        callplane, web, web.set(f"/inspect/fine/{stamp}", '<Response><Wait length="1"/></Response>')
    )
    answered = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=fine)
    assert answered.returncode == 0, answered.output
    refused = _line(callplane, web, web.set(f"/inspect/refused/{stamp}", REJECT))
    assert sipp(workdir, "uac_final.xml", callplane.sip_port, to=refused, code=603).returncode == 0
    broken = _line(
        callplane, web, web.set(f"/inspect/broken/{stamp}", "<Response><Bogus/></Response>")
    )
    assert sipp(workdir, "uac_final.xml", callplane.sip_port, to=broken, code=500).returncode == 0
    trace = wait_trace(callplane, call_uuid_of(callplane, broken))
    assert trace["mode"] == "failed"
    # both other calls ended before the broken one: their traces would be written by now
    for number in (fine, refused):
        assert _get(callplane, f"Call/{call_uuid_of(callplane, number)}/Trace/").status_code == 404


def test_an_invalid_document_is_a_debugger_error(
    traced: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    bad = web.set(f"/inspect/bad/{time.monotonic_ns()}", "<Response><Bogus/></Response>")
    number = _line(traced, web, bad)
    caller = sipp(workdir, "uac_final.xml", traced.sip_port, to=number, code=500)
    assert caller.returncode == 0, caller.output
    call_uuid = call_uuid_of(traced, number)
    trace = wait_trace(traced, call_uuid)
    assert [m["status"] for m in trace["sip"] if m["status"]][-1] == 500
    events = traced.api("GET", "Debugger/", params={"call_uuid": call_uuid})["objects"]
    assert [(e["kind"], e["level"]) for e in events] == [("invalid_document", "error")]
    assert bad in events[0]["message"] and "Bogus" in events[0]["message"]
