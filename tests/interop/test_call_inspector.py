"""The call inspector (issue 16) end to end: SIPp calls a running `callplane serve`
whose documents come from a real webhook server; the trace and the Debugger are
read back through the REST API."""

from __future__ import annotations

import itertools
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
    WebhookServer,
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
    events = traced.api("GET", "Debugger/", params={"call_uuid": call_uuid})["objects"]
    assert [e["kind"] for e in events] == ["call_refused"]
