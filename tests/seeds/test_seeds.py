"""The seeds' examples pass as written (issue 15): each file in tests/seeds/examples
re-creates a public guide's example (Node Express answer servers, PHLO flows, VoXML
and RCML documents) and runs here against one real `callplane serve`, with SIPp as
the callers and, where the example dials, as the callee behind a trunk. Only host,
port and URL values are filled in; each test checks what its guide promises."""

from __future__ import annotations

import itertools
import json
import shutil
import string
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import plivo
import pytest

from tests.interop.harness import CallplaneServer, SippUas, WebhookServer, free_port, sipp
from tests.seeds.node_app import EXAMPLES, NodeApp

GATEWAY_PORT = free_port()  # the trunk's gateway: where every dialled number rings
FORWARD_TO = "15557654321"  # the number the dialling examples forward to
_numbers = itertools.count(15558880000)

# The RCML seed's table of reasons and the SIP responses it names.
SEED_REASONS = {
    "rejected": 603,
    "busy": 486,
    "forbidden": 403,
    "anonymity_disallowed": 433,
    "address_incomplete": 484,
    "no_route": 404,
    "service_unavailable": 503,
    "unwanted": 607,
}


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-seeds")).start()
    server.api("POST", "Trunk/", json={"name": "gw", "host": "127.0.0.1", "port": GATEWAY_PORT})
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture(scope="module")
def node_app(node_modules: Path) -> Iterator[Callable[[str], NodeApp]]:
    """examples/<name>.js, started once per module (skipped without node), listening
    on its own port with ``BASE_URL`` naming it (the dial status app's action URL)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    started: dict[str, NodeApp] = {}

    def start(name: str) -> NodeApp:
        if name not in started:
            port = free_port()
            started[name] = NodeApp(name, node_modules, port, BASE_URL=f"http://127.0.0.1:{port}")
        return started[name]

    yield start
    for app in started.values():
        app.stop()


def line_for(sdk: plivo.RestClient, answer_url: str, web: WebhookServer, **app: Any) -> str:
    """A new number whose application (made with the plivo SDK) fetches ``answer_url``
    and reports its hang-ups to the webhook server: the number."""
    number = str(next(_numbers))
    made = sdk.applications.create(
        app_name=f"seed-{number}",
        answer_url=answer_url,
        hangup_url=web.url(f"/hangup/{number}"),
        **app,
    )
    sdk.numbers.create(numbers=number, carrier="own", region="lab", app_id=made.app_id)
    return number


def ended(callplane: CallplaneServer, web: WebhookServer, number: str) -> dict[str, Any]:
    """The record of the call to ``number``, once its hang-up is reported."""
    hangup = web.wait_for(f"/hangup/{number}", timeout=20)[0]
    return callplane.api("GET", f"Call/{hangup.params['CallUUID']}/")


def flow_number(callplane: CallplaneServer, sdk: plivo.RestClient, doc: str) -> tuple[str, str]:
    """A published flow of ``doc`` on a new number, linked the Plivo way (the number's
    application is the PHLO): (number, flow id)."""
    flow_id = callplane.api("POST", "Flow/", json={"document": json.loads(doc)})["flow_id"]
    assert callplane.api("POST", f"Flow/{flow_id}/Publish/")["version"] == 1
    number = str(next(_numbers))
    sdk.numbers.create(numbers=number, carrier="own", region="lab", app_id="")
    sdk.numbers.update(number, app_id=flow_id)
    return number, flow_id


def finished_runs(callplane: CallplaneServer, flow_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The flow's runs once ``count`` of them have ended, each with its log."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = callplane.api("GET", f"Flow/{flow_id}/Run/")["objects"]
        done = [run for run in runs if run["run_status"] != "running"]
        if len(done) >= count:
            return [callplane.api("GET", f"Flow/{flow_id}/Run/{r['run_id']}/") for r in done]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} finished runs of flow {flow_id}")


# --- Plivo, Reject incoming calls (Node, XML) -------------------------------------------


def test_plivo_reject_node_app_refuses_the_call_with_603(
    callplane, sdk, web, workdir, node_app
) -> None:
    app = node_app("plivo_reject.js")
    since = app.mark()
    number = line_for(sdk, app.url("/reject/"), web)
    caller = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    record = ended(callplane, web, number)
    assert record["sip_response_code"] == 603 and record["bill_duration"] == 0
    assert record["hangup_cause_name"] == "Rejected" and record["call_status"] == "no-answer"
    assert app.wait_line(lambda line: "<Hangup" in line, since) == (
        '<Response><Hangup reason="rejected"/></Response>'
    )


# --- Plivo, Screen incoming calls (Node, XML) --------------------------------------------


@pytest.mark.parametrize(
    ("caller", "blocked"),
    [("12025551234", True), ("447700900123", True), ("14155550100", False)],
    ids=["blocked-number", "blocked-country", "allowed"],
)
def test_plivo_screen_node_app_refuses_blocked_callers_and_greets_others(
    callplane, sdk, web, workdir, node_app, caller: str, blocked: bool
) -> None:
    app = node_app("plivo_screen.js")
    since = app.mark()
    number = line_for(sdk, app.url("/screen/"), web)
    if blocked:
        result = sipp(
            workdir, "uac_final.xml", callplane.sip_port, to=number, code=603, caller=caller
        )
    else:  # answered, hears the greeting, then Callplane hangs up (BYE)
        result = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to=number, caller=caller)
    assert result.returncode == 0, result.output
    record = ended(callplane, web, number)
    assert record["from_number"] == caller
    if blocked:
        assert record["sip_response_code"] == 603 and record["bill_duration"] == 0
    else:
        assert record["call_status"] == "completed" and record["answer_time"]
    element = "<Hangup" if blocked else "<Speak"
    assert app.wait_line(lambda line: element in line, since)


# --- Plivo, Dial status reporting (Node, XML) --------------------------------------------

DIAL_CASES = {
    # exit: (callee scenario, its values, caller scenario, its values, DialStatus)
    "callee-hangs-up": ("uas_answer.xml", {"ring_ms": 100, "hold_ms": 500},
                        "uac_dial_answered.xml", {}, "completed"),
    "caller-hangs-up": ("uas_answer_until_bye.xml", {"ring_ms": 100},
                        "uac_dial_answered_bye.xml", {"hold_ms": 500}, "completed"),
    # The guide's action route answers plain text, not XML, while its Dial says
    # redirect="true": the report arrives, then the call ends as Invalid Answer XML
    # (on Plivo too, which runs a redirect action's answer as the next document).
    "busy": ("uas_refuse.xml", {"code": 486, "reason": "Busy Here"},
             "uac_dial_refused.xml", {"code": 500}, "busy"),
    "failed": ("uas_refuse.xml", {"code": 503, "reason": "Service Unavailable"},
               "uac_dial_refused.xml", {"code": 500}, "failed"),
}  # fmt: skip
REFUSED_CAUSES = {"busy": "USER_BUSY", "failed": "NORMAL_TEMPORARY_FAILURE"}


@pytest.mark.parametrize("case", sorted(DIAL_CASES))
def test_plivo_dial_status_node_app_logs_how_the_dial_ended(
    callplane, sdk, web, workdir, node_app, case: str
) -> None:
    callee_scenario, callee_values, caller_scenario, caller_values, status = DIAL_CASES[case]
    app = node_app("plivo_dial_status.js")
    since = app.mark()
    number = line_for(sdk, app.url("/dialstatus/"), web)
    callee = SippUas(workdir, callee_scenario, GATEWAY_PORT, **callee_values)
    caller = sipp(workdir, caller_scenario, callplane.sip_port, to=number, **caller_values)
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0
    record = ended(callplane, web, number)

    line = app.wait_line(lambda text: text.startswith("Status : "), since)
    words = line.split()
    assert words[:3] == ["Status", ":", status], line
    assert words[3:7] == ["Aleg", "UUID", ":", record["call_uuid"]], line
    bleg = words[10] if len(words) > 10 else ""
    if status == "completed":
        assert uuid.UUID(bleg) and bleg != record["call_uuid"], line
        b_record = callplane.api("GET", f"Call/{bleg}/")
        assert b_record["to_number"] == FORWARD_TO
    else:  # Plivo sends DialBLegUUID empty, and the guide's `a || b` logs it as undefined
        assert bleg == "undefined", line
        assert record["hangup_cause_name"] == "Invalid Answer XML"
    if case == "caller-hangs-up":
        assert record["hangup_source"] == "Caller"


@pytest.mark.parametrize(("code", "reason"), [(486, "Busy Here"), (503, "Service Unavailable")])
def test_plivo_dial_status_corrected_app_ends_a_refused_dial_cleanly(
    callplane, sdk, web, workdir, node_app, code: int, reason: str
) -> None:
    """plivo_dial_status_fixed.js (its action route answers XML): after the report the
    empty document ends the unanswered call, declined (603), without an error."""
    app = node_app("plivo_dial_status_fixed.js")
    since = app.mark()
    number = line_for(sdk, app.url("/dialstatus/"), web)
    callee = SippUas(workdir, "uas_refuse.xml", GATEWAY_PORT, code=code, reason=reason)
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0
    record = ended(callplane, web, number)
    assert app.wait_line(lambda text: text.startswith("Status : "), since).split()[2] in (
        "busy",
        "failed",
    )
    assert record["hangup_cause_name"] != "Invalid Answer XML" and not record["error"]


# --- Twilio, Reject an incoming call (Node, TwiML) ---------------------------------------


@pytest.mark.parametrize(
    ("caller", "blocked"),
    [("+14155554345", True), ("+14155550100", False)],
    ids=["blocked", "other"],
)
def test_twilio_reject_node_app_rejects_blocklisted_callers(
    callplane, web, workdir, node_app, caller: str, blocked: bool
) -> None:
    app = node_app("twilio_reject.js")
    number = str(next(_numbers))
    # Pinned to TwiML, as an application or number made through the Twilio API is.
    app_id = callplane.application(
        app.url("/reject"), dialect="twiml", hangup_url=web.url(f"/hangup/{number}")
    )
    callplane.number(number, app_id)
    if blocked:  # <Reject/> (reason "rejected"): 603, never answered, nothing billed
        result = sipp(
            workdir, "uac_final.xml", callplane.sip_port, to=number, code=603, caller=caller
        )
    else:
        result = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to=number, caller=caller)
    assert result.returncode == 0, result.output
    status = web.wait_for(f"/hangup/{number}", timeout=20)[0].params  # Twilio's final status
    assert status["From"] == caller and status["To"] == f"+{number}"
    assert status["CallStatus"] == ("no-answer" if blocked else "completed")
    record = ended(callplane, web, number)
    assert record["bill_duration"] == 0 if blocked else record["answer_time"]


# --- VoXML (TryVox) and RCML Reject documents ----------------------------------------------


@pytest.mark.parametrize("reason", sorted(SEED_REASONS))
@pytest.mark.parametrize("dialect", ["rcml", "voxml"])
def test_reject_documents_refuse_with_each_reason_of_the_seed(
    callplane, web, workdir, dialect: str, reason: str
) -> None:
    """The seeds' Reject documents, as written (reason "busy") and with each reason of
    the RCML seed's table: the SIP response it names; VoXML apps also get the JSON
    ``call-rejected`` status event."""
    if dialect == "rcml":
        text = (EXAMPLES / "rcml_reject.xml").read_text()
        assert '<Reject reason="busy"/>' in text
        body, ctype = text.replace('reason="busy"', f'reason="{reason}"'), "application/xml"
    else:
        doc = json.loads((EXAMPLES / "voxml_reject.json").read_text())
        assert doc["instructions"] == [{"verb": "Reject", "reason": "busy"}]
        doc["instructions"][0]["reason"] = reason
        body, ctype = json.dumps(doc), "application/json"
    number = str(next(_numbers))
    answer = web.set(f"/doc/{number}", body, content_type=ctype)
    line_number = str(next(_numbers))
    app_id = callplane.application(  # status_callback_url is Callplane's own field
        answer,
        hangup_url=web.url(f"/hangup/{line_number}"),
        status_callback_url=web.url(f"/events/{number}"),
    )
    callplane.number(line_number, app_id)
    code = SEED_REASONS[reason]
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=line_number, code=code)
    assert result.returncode == 0, result.output
    record = ended(callplane, web, line_number)
    assert record["sip_response_code"] == code and record["bill_duration"] == 0
    event = json.loads(web.wait_for(f"/events/{number}")[0].body)
    assert event["event"] == "call-rejected" and event["reject_reason"] == reason
    assert event["call_uuid"] == record["call_uuid"] and event["to"] == line_number
    assert event["timestamp"].endswith("Z")


# --- VoXML (TryVox), the blocklist use case (Node) ------------------------------------------


@pytest.mark.parametrize(
    ("caller", "blocked"),
    [("13105550199", True), ("14155550100", False)],
    ids=["blocked", "other"],
)
def test_voxml_blocklist_node_app_rejects_blocked_callers(
    callplane, web, workdir, node_app, caller: str, blocked: bool
) -> None:
    app = node_app("voxml_blocklist.js")
    number = str(next(_numbers))
    app_id = callplane.application(  # a VoXML app compares From as its webhook gets it
        app.url("/voice"), dialect="voxml", hangup_url=web.url(f"/hangup/{number}")
    )
    callplane.number(number, app_id)
    if blocked:
        result = sipp(
            workdir, "uac_final.xml", callplane.sip_port, to=number, code=603, caller=caller
        )
    else:
        result = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to=number, caller=caller)
    assert result.returncode == 0, result.output
    record = ended(callplane, web, number)
    if blocked:
        assert record["sip_response_code"] == 603 and record["bill_duration"] == 0
    else:
        assert record["call_status"] == "completed" and record["answer_time"]


# --- Plivo PHLO: reject, screen, dial status reporting ---------------------------------------


def test_phlo_reject_refuses_every_call(callplane, sdk, workdir) -> None:
    """Start -> Hangup, nothing configured: "calls are rejected" (a Hangup before
    answer rejects, as Plivo's Hangup XML does by default)."""
    number, flow_id = flow_number(callplane, sdk, (EXAMPLES / "phlo_reject.json").read_text())
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=603)
    assert result.returncode == 0, result.output
    [run] = finished_runs(callplane, flow_id)
    assert run["run_status"] == "completed"
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    assert record["sip_response_code"] == 603 and record["bill_duration"] == 0


def test_phlo_screen_rejects_the_blocked_number_and_forwards_others(
    callplane, sdk, workdir
) -> None:
    number, flow_id = flow_number(callplane, sdk, (EXAMPLES / "phlo_screen.json").read_text())
    blocked = sipp(
        workdir, "uac_final.xml", callplane.sip_port, to=number, code=603, caller="12025551234"
    )
    assert blocked.returncode == 0, blocked.output
    callee = SippUas(workdir, "uas_answer.xml", GATEWAY_PORT, ring_ms=100, hold_ms=300)
    other = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert other.returncode == 0, other.output
    assert callee.result().returncode == 0
    runs = finished_runs(callplane, flow_id, 2)
    records = [callplane.api("GET", f"Call/{run['call_uuid']}/") for run in runs]
    by_caller = {record["from_number"]: record for record in records}
    assert by_caller["12025551234"]["sip_response_code"] == 603
    assert by_caller["14155550100"]["call_status"] == "completed"


@pytest.mark.parametrize("case", sorted(DIAL_CASES))
def test_phlo_dial_status_reports_every_exit_over_http(
    callplane, sdk, web, workdir, case: str
) -> None:
    callee_scenario, callee_values, caller_scenario, caller_values, status = DIAL_CASES[case]
    report = f"/report/{next(_numbers)}"
    doc = string.Template((EXAMPLES / "phlo_dial_status.json").read_text())
    number, flow_id = flow_number(callplane, sdk, doc.substitute(REPORT_URL=web.url(report)))
    callee = SippUas(workdir, callee_scenario, GATEWAY_PORT, **callee_values)
    if status != "completed":  # the flow ends after its report: the caller is refused
        caller_values = {"code": 603}
    caller = sipp(workdir, caller_scenario, callplane.sip_port, to=number, **caller_values)
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0

    sent = web.wait_for(report, timeout=20)[0].params
    [run] = finished_runs(callplane, flow_id)
    assert sent["DialStatus"] == status
    assert sent["DialALegUUID"] == run["call_uuid"]
    assert sent["DialRingStatus"] == ("true" if status == "completed" else "false")  # 486 at once
    if status == "completed":
        assert sent["DialHangupCause"] == "NORMAL_CLEARING"
        b_leg = callplane.api("GET", f"Call/{sent['DialBLegUUID']}/")
        assert b_leg["to_number"] == FORWARD_TO
    else:
        assert sent["DialHangupCause"] == REFUSED_CAUSES[status] and sent["DialBLegUUID"] == ""
    assert len(web.seen(report)) == 1  # one HTTP Request, on the exit the dial took
    record = callplane.api("GET", f"Call/{run['call_uuid']}/")
    if case == "caller-hangs-up":
        assert record["hangup_source"] == "Caller"
