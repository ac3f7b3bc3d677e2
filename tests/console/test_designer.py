"""A user who writes no code builds flows in the console's designer by dragging boxes,
saves and publishes them, assigns one to a number, and a real SIP call follows it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.console.browser import Console
from tests.interop.harness import CallplaneServer, SippUas, WebhookServer, free_port, sipp

REJECT_NUMBER = "15550007001"
DIAL_NUMBER = "15550007002"


def test_reject_incoming_calls_flow(
    console: Console, callplane: CallplaneServer, workdir: Path
) -> None:
    callplane.number(REJECT_NUMBER, None)
    flow_id = console.new_flow("reject incoming calls")

    console.drop("start", 200, 80)
    console.drop("hangup", 200, 300)
    console.connect("Start", "incoming_call", "Hangup_1")
    panel = console.select("Hangup_1")
    panel.get_by_label("reason").select_option("rejected")
    console.press("Validate", "Valid")
    console.press("Save", "Saved")
    console.press("Publish", "Published version 1")
    console.page.get_by_label("Number", exact=True).select_option(REJECT_NUMBER)
    console.press("Assign to number", f"Assigned to {REJECT_NUMBER}")
    console.screenshot("reject-flow")

    saved = callplane.api("GET", f"Flow/{flow_id}/")["document"]
    assert [(n["id"], n["type"]) for n in saved["nodes"]] == [
        ("Start", "start"),
        ("Hangup_1", "hangup"),
    ]
    assert saved["nodes"][1]["settings"] == {"reason": "rejected"}
    assert saved["edges"] == [{"from": "Start", "exit": "incoming_call", "to": "Hangup_1"}]

    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=REJECT_NUMBER, code=603)
    assert result.returncode == 0, result.output

    console.go("Call log")
    row = console.page.locator("tr", has_text=REJECT_NUMBER).first
    expect(row).to_contain_text("603")
    row.get_by_role("link").click()
    console.page.get_by_role("tab", name="Timeline").click()
    expect(console.page.get_by_test_id("timeline")).to_be_visible()
    expect(console.page.locator(".facts")).to_contain_text("603")


def test_dial_status_reporting_flow(
    console: Console, callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    gateway = free_port()
    callplane.api("POST", "Trunk/", json={"name": "gw", "host": "127.0.0.1", "port": gateway})
    callplane.number(DIAL_NUMBER, None)
    flow_id = console.new_flow("dial status reporting")

    console.drop("start", 330, 40)
    console.drop("call_forward", 330, 200)
    outcomes = ("answered", "no_answer", "busy", "failed")
    for i, _ in enumerate(outcomes):
        console.drop("http_request", 30 + 210 * i, 420)
    console.connect("Start", "incoming_call", "CallForward_1")
    for i, outcome in enumerate(outcomes, start=1):
        console.connect("CallForward_1", outcome, f"HTTPRequest_{i}")

    console.press("Validate", "6 problem(s): see the marked nodes")
    panel = console.select("CallForward_1")
    expect(panel.get_by_test_id("node-problems")).to_contain_text("settings.to: required")
    panel.get_by_label("from").fill("{{Start.call.from}}")
    panel.get_by_label("to").fill("14155550100")
    for i, outcome in enumerate(outcomes, start=1):
        panel = console.select(f"HTTPRequest_{i}")
        panel.get_by_label("url").fill(web.url(f"/dial/{outcome}"))
        panel.get_by_label("body").fill('{"status": "{{CallForward_1.dial_status}}"}')
    console.press("Validate", "Valid")
    console.press("Save", "Saved")
    console.press("Publish", "Published version 1")
    console.page.get_by_label("Number", exact=True).select_option(DIAL_NUMBER)
    console.press("Assign to number", f"Assigned to {DIAL_NUMBER}")
    console.screenshot("dial-status-flow")

    saved = callplane.api("GET", f"Flow/{flow_id}/")["document"]
    edges = {(e["from"], e["exit"], e["to"]) for e in saved["edges"]}
    assert edges == {
        ("Start", "incoming_call", "CallForward_1"),
        *{("CallForward_1", o, f"HTTPRequest_{i}") for i, o in enumerate(outcomes, start=1)},
    }
    forward = next(n for n in saved["nodes"] if n["id"] == "CallForward_1")
    assert forward["settings"] == {"from": "{{Start.call.from}}", "to": "14155550100"}

    callee = SippUas(workdir, "uas_refuse.xml", gateway, code=486, reason="Busy Here")
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=DIAL_NUMBER, code=603)
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0
    report = web.wait_for("/dial/busy", timeout=20)[0]
    assert report.method == "POST" and report.params["status"] == "busy"
    assert not any(web.seen(f"/dial/{o}") for o in outcomes if o != "busy")
