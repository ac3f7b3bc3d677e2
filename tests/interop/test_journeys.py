"""What a user does, end to end: the plivo SDK configures a running server and a
SIP call follows; records survive a crash; every call of a burst gets one record."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import plivo
import plivo.rest.client
import pytest
from plivo import plivoxml

from tests.interop.harness import LAB, CallplaneServer, WebhookServer, sipp


def test_the_plivo_sdk_sets_up_a_number_and_a_call_follows(
    sdk: plivo.RestClient, callplane, web: WebhookServer, workdir: Path
) -> None:
    document = plivoxml.ResponseElement().add(plivoxml.HangupElement(reason="busy"))
    answer = web.set("/journey/answer", document.to_string())
    app = sdk.applications.create(
        app_name="blocklist",
        answer_url=answer,
        answer_method="POST",
        hangup_url=web.url("/journey/hangup"),
    )
    sdk.numbers.create(numbers="+15557770001", carrier="own", region="lab", app_id=app.app_id)
    assert sdk.numbers.get("15557770001").number == "15557770001"

    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to="15557770001", code=486)
    assert result.returncode == 0, result.output
    uuid = web.wait_for("/journey/hangup")[0].params["CallUUID"]
    record = sdk.calls.get(uuid)
    assert record.call_uuid == uuid and record.hangup_cause_name == "Busy Line"
    assert record.bill_duration == 0 and record.to_number == "15557770001"
    assert uuid in [c.call_uuid for c in sdk.calls.list(limit=20)]

    sdk.applications.update(
        app.app_id, answer_url=web.set("/journey/answer2", "<Response><Hangup/></Response>")
    )
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to="15557770001", code=603)
    assert result.returncode == 0, result.output


@pytest.mark.serial
def test_every_call_of_a_burst_gets_exactly_one_record(tmp_path: Path, web: WebhookServer) -> None:
    server = CallplaneServer(tmp_path, extra=LAB).start()  # 150 calls/s from one address
    try:
        server.api("POST", "", json={"inbound_cps": 1000})
        answer = web.set("/burst/answer", "<Response><Hangup reason='busy'/></Response>")
        server.number("15557770002", server.application(answer))
        result = sipp(
            tmp_path,
            "uac_final.xml",
            server.sip_port,
            to="15557770002",
            code=486,
            calls=300,
            rate=150,
        )
        assert result.returncode == 0, result.output
        assert _total_calls(server, until=300) == 300  # written behind, every 50 ms
    finally:
        assert server.stop() == 0


def test_a_crash_mid_call_still_leaves_one_final_record(tmp_path: Path, web: WebhookServer) -> None:
    server = CallplaneServer(tmp_path).start()
    answer = web.set("/crash/answer", "<Response><Hangup reason='busy'/></Response>", delay=3)
    server.number("15557770003", server.application(answer, hangup_url=web.url("/crash/hangup")))
    import threading

    caller = threading.Thread(
        target=sipp,
        args=(tmp_path, "uac_final.xml", server.sip_port),
        kwargs={"to": "15557770003", "code": 486, "timeout": 5},
    )
    caller.start()
    web.wait_for("/crash/answer")
    assert _total_calls(server, until=1) == 1  # the live record is written
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    server.log.close()
    restarted = CallplaneServer(
        tmp_path, sip_port=server.sip_port, http_port=server.http_port
    ).start()
    try:
        calls = restarted.api("GET", "Call/")["objects"]
        assert len(calls) == 1
        record = calls[0]
        assert record["state"] == "ended" and record["hangup_cause_name"] == "Callplane Stopped"
        assert "stopped while the call was live" in record["error"]
        hangup = web.wait_for("/crash/hangup")[0].params
        assert hangup["CallUUID"] == record["call_uuid"] and hangup["CallStatus"] == "failed"
    finally:
        restarted.stop()
        caller.join()


def _total_calls(server: CallplaneServer, until: int, timeout: float = 10.0) -> int:
    """The account's call count, polled until it reaches ``until`` (or the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        total = int(server.api("GET", "Call/", params={"limit": 1})["meta"]["total_count"])
        if total >= until or time.monotonic() > deadline:
            return total
        time.sleep(0.05)
