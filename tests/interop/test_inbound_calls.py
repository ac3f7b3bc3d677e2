"""Inbound calls end to end: SIPp calls a running `callplane serve`, which fetches
documents from a real webhook server; results are checked on the wire, at the
webhooks and in the call records."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from plivo import plivoxml
from plivo.utils import validate_v3_signature
from twilio.twiml.voice_response import VoiceResponse

from tests.interop.harness import AUTH_TOKEN, CallplaneServer, WebhookServer, sipp

REASONS = {
    "rejected": (603, "no-answer"),
    "busy": (486, "busy"),
    "forbidden": (403, "failed"),
    "anonymity_disallowed": (433, "failed"),
    "address_incomplete": (484, "failed"),
    "no_route": (404, "failed"),
    "service_unavailable": (503, "failed"),
    "unwanted": (607, "failed"),
}
XML = "application/xml"
JSON = "application/json"
_numbers = itertools.count(15550100000)


def plivo_reject(reason: str) -> str:
    return plivoxml.ResponseElement().add(plivoxml.HangupElement(reason=reason)).to_string()


def twiml_reject(reason: str) -> str:
    response = VoiceResponse()
    response.reject(reason=reason)
    return str(response)


def voxml_reject(reason: str) -> str:
    return json.dumps({"voxml_version": "1.0", "verbs": [{"verb": "Reject", "reason": reason}]})


DIALECTS = {
    "plivo": (plivo_reject, XML),
    "twiml": (twiml_reject, XML),
    "voxml": (voxml_reject, JSON),
}


class Line:
    """A number routed to an application whose answer URL serves ``document``."""

    def __init__(
        self,
        callplane: CallplaneServer,
        web: WebhookServer,
        document: str = "",
        content_type: str = XML,
        delay: float = 0.0,
        **app_fields: object,
    ) -> None:
        self.number = str(next(_numbers))
        self.web = web
        self.answer_path = f"/answer/{self.number}"
        self.hangup_path = f"/hangup/{self.number}"
        answer_url = web.set(self.answer_path, document, content_type, delay=delay)
        fields = {"hangup_url": web.url(self.hangup_path), **app_fields}
        self.app_id = callplane.application(answer_url, **fields)
        callplane.number(self.number, self.app_id)
        self.callplane = callplane

    def hangup(self) -> dict[str, str]:
        return self.web.wait_for(self.hangup_path)[0].params

    def record(self) -> dict[str, object]:
        return self.callplane.api("GET", f"Call/{self.hangup()['CallUUID']}/")


def call(
    workdir: Path,
    callplane: CallplaneServer,
    line: Line,
    code: int,
    scenario: str = "uac_final.xml",
    transport: str = "u1",
    **values: object,
) -> None:
    result = sipp(
        workdir,
        scenario,
        callplane.sip_port,
        transport=transport,
        to=line.number,
        code=code,
        **values,
    )
    assert result.returncode == 0, result.output


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_reject_reason_in_every_dialect(callplane, web, workdir, dialect, reason) -> None:
    build, content_type = DIALECTS[dialect]
    line = Line(callplane, web, build(reason), content_type)
    code, status = REASONS[reason]
    call(workdir, callplane, line, code)
    hangup = line.hangup()
    assert hangup["CallStatus"] == status
    assert hangup["HangupSource"] == "Answer XML"
    assert hangup["BillDuration"] == "0" and hangup["TotalCost"] == "0.00000"
    record = line.record()
    assert record["sip_response_code"] == code
    assert record["bill_duration"] == 0 and record["answer_time"] is None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reject_over_tcp(callplane, web, workdir, dialect) -> None:
    build, content_type = DIALECTS[dialect]
    line = Line(callplane, web, build("busy"), content_type)
    call(workdir, callplane, line, 486, transport="t1")
    assert line.hangup()["CallStatus"] == "busy"


def test_plivo_hangup_first_refuses_603_by_default(callplane, web, workdir) -> None:
    line = Line(callplane, web, "<Response><Hangup/><Speak>never</Speak></Response>")
    call(workdir, callplane, line, 603)
    assert line.hangup()["HangupCauseName"] == "Rejected"


def test_answer_request_carries_plivo_parameters_and_a_valid_signature(
    callplane, web, workdir
) -> None:
    line = Line(callplane, web, plivo_reject("busy"))
    call(workdir, callplane, line, 486)
    request = web.wait_for(line.answer_path)[0]
    params = request.params
    assert params["From"] == "14155550100" and params["To"] == line.number
    assert params["CallerName"] == "Alice Smith"
    assert params["Direction"] == "inbound" and params["CallStatus"] == "ringing"
    assert params["X-PH-Campaign"] == "spring"
    assert params["Event"] == "StartApp" and len(params["CallUUID"]) == 36
    headers = request.headers
    assert validate_v3_signature(
        "POST",
        request.url,
        headers["X-Plivo-Signature-V3-Nonce"],
        AUTH_TOKEN,
        headers["X-Plivo-Signature-V3"],
        params,
    )
    hangup = web.wait_for(line.hangup_path)[0]
    assert validate_v3_signature(
        "POST",
        hangup.url,
        hangup.headers["X-Plivo-Signature-V3-Nonce"],
        AUTH_TOKEN,
        hangup.headers["X-Plivo-Signature-V3"],
        hangup.params,
    )
    assert hangup.params["CallUUID"] == params["CallUUID"]
    for name in ("HangupCause", "HangupCauseCode", "StartTime", "EndTime", "Duration"):
        assert name in hangup.params


def test_get_answer_method_puts_parameters_in_the_query(callplane, web, workdir) -> None:
    line = Line(callplane, web, twiml_reject("rejected"), answer_method="GET")
    call(workdir, callplane, line, 603)
    request = web.wait_for(line.answer_path)[0]
    assert request.method == "GET" and request.params["To"] == line.number


def test_unknown_number_gets_404(callplane, workdir) -> None:
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to="19999999999", code=404)
    assert result.returncode == 0, result.output


def test_cancel_while_the_answer_url_is_slow(callplane, web, workdir) -> None:
    line = Line(callplane, web, plivo_reject("busy"), delay=3.0)
    started = time.monotonic()
    call(workdir, callplane, line, 0, scenario="uac_cancel.xml", pause_ms=300)
    assert time.monotonic() - started < 2.5  # 487 came at once, not after the answer URL
    hangup = line.hangup()
    assert hangup["CallStatus"] == "cancel" and hangup["HangupSource"] == "Caller"
    assert line.record()["sip_response_code"] == 487


def test_lost_ack_gets_the_final_response_again(callplane, web, workdir) -> None:
    line = Line(callplane, web, plivo_reject("busy"))
    result = sipp(workdir, "uac_lost_ack.xml", callplane.sip_port, to=line.number, code=486)
    assert result.returncode == 0, result.output
    received = result.output.count("SIP/2.0 486 Busy Here")
    assert received >= 3, result.output  # first copy + Timer G at 0.5 s and 1.5 s
    assert line.hangup()["CallStatus"] == "busy"


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_hangup_after_answer_sends_bye_and_bills(callplane, web, workdir, transport) -> None:
    response = VoiceResponse()
    response.hangup()  # alone it reads as Plivo's refusing Hangup, so the app pins TwiML
    line = Line(callplane, web, str(response), dialect="twiml")
    call(workdir, callplane, line, 0, scenario="uac_answer_bye.xml", transport=transport)
    hangup = line.hangup()
    assert hangup["CallStatus"] == "completed" and hangup["HangupCauseName"] == "Normal Hangup"
    record = line.record()
    assert record["answer_time"] is not None and record["billed_duration"] == 60


def test_voxml_hangup_answers_then_hangs_up(callplane, web, workdir) -> None:
    document = json.dumps({"voxml_version": "1.0", "verbs": [{"verb": "Hangup"}]})
    line = Line(callplane, web, document, JSON)
    call(workdir, callplane, line, 0, scenario="uac_answer_bye.xml")
    assert line.hangup()["CallStatus"] == "completed"


def test_fallback_url_serves_when_the_answer_url_fails(callplane, web, workdir) -> None:
    fallback = web.set("/fallback/ok", twiml_reject("busy"))
    line = Line(callplane, web, "oops", "text/plain", fallback_answer_url=fallback)
    web.set(line.answer_path, "server error", "text/plain", status=500)
    call(workdir, callplane, line, 486)
    record = line.record()
    assert "500" in record["error"]


def test_both_urls_failing_refuses_500_with_the_error_recorded(callplane, web, workdir) -> None:
    fallback = web.set("/fallback/bad", "<Response><Spaek>typo</Spaek></Response>")
    line = Line(callplane, web, "", fallback_answer_url=fallback)
    web.set(line.answer_path, "gone", "text/plain", status=404)
    call(workdir, callplane, line, 500)
    hangup = line.hangup()
    assert hangup["CallStatus"] == "failed" and hangup["HangupSource"] == "Error"
    record = line.record()
    assert "Spaek" in record["error"] and "404" in record["error"]
    assert record["hangup_cause_name"] == "Invalid Answer XML"


def test_a_verb_not_executable_yet_fails_the_call_with_a_clear_error(
    callplane, web, workdir
) -> None:
    line = Line(callplane, web, "<Response><Message>hi</Message></Response>")
    call(workdir, callplane, line, 500)
    record = line.record()
    assert "Message" in record["error"] and "not supported yet" in record["error"]


def test_redirect_fetches_the_next_document(callplane, web, workdir) -> None:
    target = web.set("/next/busy", twiml_reject("busy"))
    line = Line(callplane, web, f'<Response><Redirect method="GET">{target}</Redirect></Response>')
    call(workdir, callplane, line, 486)
    assert web.wait_for("/next/busy")[0].method == "GET"


def test_blocklist_refuses_without_a_webhook_and_emits_call_rejected(
    callplane, web, workdir
) -> None:
    events = "/events/blocklist"
    line = Line(callplane, web, plivo_reject("busy"), status_callback_url=web.url(events))
    callplane.api(
        "POST",
        "Blocklist/",
        json={"match": "prefix", "pattern": "1415555", "reason": "unwanted", "number": line.number},
    )
    call(workdir, callplane, line, 607)
    event = web.wait_for(events)[0]
    body = json.loads(event.body)
    assert body["event"] == "call-rejected" and body["status"] == "rejected"
    assert body["reject_reason"] == "unwanted" and body["to"] == line.number
    assert body["from"] == "14155550100" and body["call_uuid"]
    assert line.hangup()["CallStatus"] == "failed"
    assert web.seen(line.answer_path) == []


def test_voxml_reject_sends_call_rejected_with_a_utc_timestamp(callplane, web, workdir) -> None:
    """Seed: a VoXML Reject with a status callback; the event's time is UTC, with ``Z``."""
    events = "/events/voxml"
    line = Line(callplane, web, voxml_reject("busy"), JSON, status_callback_url=web.url(events))
    before = datetime.now(UTC)
    call(workdir, callplane, line, 486)
    body = json.loads(web.wait_for(events)[0].body)
    assert set(body) == {"event", "call_uuid", "status", "reject_reason", "from", "to", "timestamp"}
    assert body["event"] == "call-rejected" and body["reject_reason"] == "busy"
    assert body["timestamp"].endswith("Z")
    when = datetime.fromisoformat(body["timestamp"].removesuffix("Z") + "+00:00")
    assert before - timedelta(seconds=60) <= when <= datetime.now(UTC) + timedelta(seconds=60)


def test_blocklist_anonymous_callers(callplane, web, workdir) -> None:
    line = Line(callplane, web, plivo_reject("busy"))
    callplane.api(
        "POST",
        "Blocklist/",
        json={"match": "anonymous", "reason": "anonymity_disallowed", "app_id": line.app_id},
    )
    call(workdir, callplane, line, 433, caller="anonymous", caller_name="Anonymous")
    call(workdir, callplane, line, 486)  # a caller with a number goes through


def test_max_concurrent_calls_refuses_the_excess_busy(callplane, web, workdir) -> None:
    line = Line(callplane, web, plivo_reject("rejected"), delay=1.5)
    callplane.api("POST", f"Number/{line.number}/", json={"max_concurrent_calls": 1})
    first = threading.Thread(target=call, args=(workdir, callplane, line, 603))
    first.start()
    web.wait_for(line.answer_path)
    call(workdir, callplane, line, 486)
    first.join()


def first_responses(callplane: CallplaneServer, number: str, until_final: bool = True) -> list[int]:
    """Send one INVITE over a raw UDP socket; the status codes of the responses
    received up to the final one (then ACK it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        branch, call_id = f"z9hG4bK{time.monotonic_ns()}", f"raw-{time.monotonic_ns()}"
        head = (
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n"
            f"From: <sip:14155550100@127.0.0.1:{port}>;tag=raw1\r\n"
        )
        sock.sendto(
            (
                f"INVITE sip:{number}@127.0.0.1 SIP/2.0\r\n{head}"
                f"To: <sip:{number}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
                f"Contact: <sip:raw@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", callplane.sip_port),
        )
        codes: list[int] = []
        while not codes or codes[-1] < 200:
            data = sock.recv(65535).decode()
            codes.append(int(data.split(" ", 2)[1]))
        to = next(line for line in data.split("\r\n") if line.lower().startswith("to:"))
        sock.sendto(
            (
                f"ACK sip:{number}@127.0.0.1 SIP/2.0\r\n{head}{to}\r\nCall-ID: {call_id}\r\n"
                "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", callplane.sip_port),
        )
    return codes


def test_a_call_refused_at_once_gets_no_100_trying(callplane, web) -> None:
    """The blocklist answers before any 200 ms pass: the final response comes alone,
    while a call that waits for its answer URL still gets a 100 Trying first."""
    blocked = Line(callplane, web, plivo_reject("busy"))
    callplane.api(
        "POST",
        "Blocklist/",
        json={
            "match": "exact",
            "pattern": "14155550100",
            "reason": "busy",
            "number": blocked.number,
        },
    )
    assert first_responses(callplane, blocked.number) == [486]
    fetched = Line(callplane, web, plivo_reject("rejected"))
    assert first_responses(callplane, fetched.number) == [100, 603]
    assert blocked.hangup()["CallStatus"] == "busy"  # its record and callbacks as before
