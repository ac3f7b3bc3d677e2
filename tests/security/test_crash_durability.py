"""Nothing is lost on a crash: `callplane serve` killed with SIGKILL while hangup
callbacks are in flight and answered calls are live, then started again on the
same data directory, delivers one hangup callback per final record and bills the
calls that were answered when it died.

Delivery is at least once: a callback delivered just before a crash, whose
outbox row was not yet deleted, is sent again (receivers dedupe by CallUUID).
Here the customer's server answers nothing before the crash, so every callback
must arrive exactly once.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.interop.harness import LAB, BusyHTTPServer, CallplaneServer, WebhookServer, sipp_start

OK, BUSY, LONG = "15550001001", "15550001002", "15550001003"
OK_CALLS, BUSY_CALLS, LONG_CALLS = 100, 100, 20
# Generous: a callback whose first attempt failed outright before the crash (the
# receiver too slow even to accept, on a busy machine) is retried 30 s later.
DEADLINE = 60.0
RATE = 40  # calls/s per SIPp run (three run at once)

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed")


class HangupReceiver:
    """The customer's hangup URL. Until ``answer()`` it is slow: it reads each request
    and answers nothing (the callback stays in flight), then drops the connection.
    After, it answers 200 and counts the callbacks delivered, by CallUUID."""

    def __init__(self) -> None:
        self.answering = threading.Event()
        self.lock = threading.Lock()
        self.held = 0
        self.delivered: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                call_uuid = parse_qs(body.decode()).get("CallUUID", [""])[0]
                if not owner.answering.is_set():
                    with owner.lock:
                        owner.held += 1
                    owner.answering.wait(DEADLINE * 2)
                    self.close_connection = True  # never answered: not delivered
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.wfile.flush()
                with owner.lock:
                    owner.delivered[call_uuid] += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = BusyHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hangup"

    def answer(self) -> None:
        self.answering.set()

    def stop(self) -> None:
        self.answering.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def snapshot(self) -> tuple[int, Counter[str]]:
        with self.lock:
            return self.held, Counter(self.delivered)


@pytest.fixture
def receiver() -> Iterator[HangupReceiver]:
    hangups = HangupReceiver()
    yield hangups
    hangups.stop()


@pytest.fixture
def documents() -> Iterator[WebhookServer]:
    web = WebhookServer().start()
    web.set("/ok", "<Response><Wait length='1'/></Response>")
    web.set("/busy", "<Response><Hangup reason='busy'/></Response>")
    # Answered (Wait answers), then /stay is fetched: the call is answered by then.
    web.set(
        "/long", f"<Response><Wait length='1'/><Redirect>{web.url('/stay')}</Redirect></Response>"
    )
    web.set("/stay", "<Response><Wait length='120'/></Response>")
    yield web
    web.stop()


def wait_until(what: str, check: Any, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ended(server: CallplaneServer, number: str) -> int:
    found = server.api("GET", "Call/", params={"to_number": number, "status": "ended", "limit": 1})
    return int(found["meta"]["total_count"])


def all_records(server: CallplaneServer) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        page = server.api("GET", "Call/", params={"limit": 20, "offset": len(records)})
        records += page["objects"]
        if len(records) >= page["meta"]["total_count"] or not page["objects"]:
            return records


@pytest.mark.serial
def test_sigkill_loses_no_callback_and_bills_answered_calls(
    tmp_path: Path, receiver: HangupReceiver, documents: WebhookServer
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = CallplaneServer(data, extra=("--log-level", "WARNING", *LAB)).start()
    callers: list[subprocess.Popen[str]] = []
    try:
        first.api("POST", "", json={"inbound_cps": 100000})
        for number, path in ((OK, "/ok"), (BUSY, "/busy"), (LONG, "/long")):
            app = first.application(documents.url(path), hangup_url=receiver.url)
            first.number(number, app)
        for number, calls, scenario, values in (
            (LONG, LONG_CALLS, "uac_answer_bye.xml", {}),
            (OK, OK_CALLS, "uac_answer_bye.xml", {}),
            (BUSY, BUSY_CALLS, "uac_final.xml", {"code": 486}),
        ):
            callers.append(
                sipp_start(
                    tmp_path, scenario, first.sip_port, calls=calls, rate=RATE, to=number, **values
                )
            )
        wait_until("the long calls answered", lambda: len(documents.seen("/stay")) == LONG_CALLS)
        wait_until("the short calls' final records", lambda: ended(first, OK) == OK_CALLS)
        wait_until("the refused calls' final records", lambda: ended(first, BUSY) == BUSY_CALLS)
        wait_until("hangup callbacks in flight", lambda: receiver.snapshot()[0] > 0)
    finally:
        first.proc.kill()  # SIGKILL: no drain, no flush
        first.proc.wait()
        first.log.close()
        for caller in callers:
            caller.kill()
            caller.wait()

    receiver.answer()
    second = CallplaneServer(data, extra=("--log-level", "WARNING", *LAB)).start()
    try:
        records = all_records(second)
        assert len(records) == OK_CALLS + BUSY_CALLS + LONG_CALLS
        assert all(r["state"] == "ended" for r in records)
        uuids = {r["call_uuid"] for r in records}
        deadline = time.monotonic() + DEADLINE
        while not set(receiver.snapshot()[1]) >= uuids and time.monotonic() < deadline:
            time.sleep(0.05)
        _, delivered = receiver.snapshot()
        missing = uuids - set(delivered)
        assert not missing, f"{len(missing)} of {len(uuids)} hangup callbacks never arrived"
        assert set(delivered) == uuids
        assert [uuid for uuid, count in delivered.items() if count != 1] == []
        stopped = [r for r in records if r["hangup_cause_name"] == "Callplane Stopped"]
        assert {r["to_number"] for r in stopped} == {LONG}
        assert len(stopped) == LONG_CALLS
        for record in stopped:
            assert record["answer_time"], record
            assert record["billed_duration"] > 0, record
            assert record["end_time"] >= record["answer_time"], record
    finally:
        assert second.stop() == 0, second.logs()
