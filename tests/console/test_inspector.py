"""The call inspector in the console, on real SIPp calls through `callplane serve` with
capture on: a refused call's SIP ladder and message text, an answer URL that times out
(its retries, the fallback, the Debugger page), and a bridged call's legs and RTP figures."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.console.browser import Console
from tests.console.conftest import serve
from tests.console.traces import inbound_call, wait_for_trace
from tests.interop.harness import CallplaneServer, SippUas, WebhookServer, free_port, sipp

REFUSED = "15550007201"
SLOW = "15550007202"
BRIDGED = "15550007203"
CANCELLED = "15550007204"
REJECT_DOCUMENT = {
    "schema": 1,
    "name": "refuse",
    "nodes": [
        {"id": "Start", "type": "start"},
        {"id": "Hangup_1", "type": "hangup", "settings": {"reason": "rejected"}},
    ],
    "edges": [{"from": "Start", "exit": "incoming_call", "to": "Hangup_1"}],
}
# A message's header line in the text export: time, source -> destination, transport.
EXPORT_HEADER = re.compile(r"^\S+Z 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(udp\)$", re.MULTILINE)


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    yield from serve(tmp_path_factory, "--trace", "all")


def test_refused_call_shows_its_sip_ladder(
    console: Console, callplane: CallplaneServer, workdir: Path
) -> None:
    flow_id = callplane.api("POST", "Flow/", json={"name": "refuse"})["flow_id"]
    callplane.api("POST", f"Flow/{flow_id}/", json={"document": REJECT_DOCUMENT})
    callplane.api("POST", f"Flow/{flow_id}/Publish/")
    callplane.number(REFUSED, None, flow_id=flow_id)
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=REFUSED, code=603)
    assert result.returncode == 0, result.output
    uuid = inbound_call(callplane, REFUSED)
    wait_for_trace(callplane, uuid, lambda t: any(m["method"] == "ACK" for m in t["sip"]))

    console.open_call(REFUSED)
    page = console.page
    ladder = page.get_by_test_id("ladder")
    expect(ladder.locator("[data-testid^=party-]")).to_have_count(2)
    expect(ladder.get_by_test_id("party-caller")).to_contain_text("127.0.0.1")
    labels = ladder.locator(".sip-label")
    expect(labels.last).to_have_text("ACK")
    texts = labels.all_text_contents()  # SVG text has no innerText
    assert texts[:2] == ["INVITE", "100 Trying"], texts
    assert re.fullmatch(r"603 \w+", texts[-2]), texts
    assert set(texts[2:-2]) <= {"180 Ringing"}, texts  # a refusal may ring first
    console.screenshot("inspector-ladder")

    page.get_by_role("button", name=re.compile(r"^INVITE 127\.0\.0\.1:\d+ to ")).click()
    message = page.get_by_test_id("sip-message")
    expect(message).to_contain_text(f"INVITE sip:{REFUSED}@127.0.0.1")
    expect(message).to_contain_text("X-PH-Campaign: spring")  # the caller's own header
    expect(message).to_contain_text("CSeq: 1 INVITE")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download SIP text export").click()
    export = Path(download.value.path()).read_text()
    assert len(EXPORT_HEADER.findall(export)) == len(texts), export
    assert f"INVITE sip:{REFUSED}@" in export and "\nACK sip:" in export


def test_cancelled_call_shows_cancel_and_487(
    console: Console, callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    slow = web.set("/inspector/cancelled", "<Response><Speak>late</Speak></Response>", delay=2)
    callplane.number(CANCELLED, callplane.application(slow))
    result = sipp(workdir, "uac_cancel.xml", callplane.sip_port, to=CANCELLED, pause_ms=300)
    assert result.returncode == 0, result.output
    uuid = inbound_call(callplane, CANCELLED)
    wait_for_trace(callplane, uuid, lambda t: any(m["method"] == "ACK" for m in t["sip"]))

    console.open_call(CANCELLED)
    page = console.page
    labels = page.get_by_test_id("ladder").locator(".sip-label")
    expect(labels.last).to_have_text("ACK")
    texts = labels.all_text_contents()
    assert texts[:3] == ["INVITE", "100 Trying", "CANCEL"], texts
    assert sorted(texts[3:5]) == ["200 OK", "487 Request Terminated"], texts
    page.get_by_role("button", name=re.compile(r"^CANCEL ")).click()
    expect(page.get_by_test_id("sip-message")).to_contain_text("CSeq: 1 CANCEL")


def test_answer_url_timeout_shows_retries_fallback_and_debugger_entry(
    console: Console, callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    # Each attempt gives up after 300 ms, one retry on read timeouts; then the fallback.
    slow = web.set("/inspector/slow", "<Response><Speak>late</Speak></Response>", delay=3)
    fallback = web.set("/inspector/fallback", '<Response><Hangup reason="busy"/></Response>')
    app_id = callplane.application(f"{slow}#rt=300&rc=1&rp=rt", fallback_answer_url=fallback)
    callplane.number(SLOW, app_id)
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=SLOW, code=486)
    assert result.returncode == 0, result.output
    assert len(web.seen("/inspector/slow")) == 2
    uuid = inbound_call(callplane, SLOW)
    wait_for_trace(callplane, uuid, lambda t: len(t["webhooks"]) >= 2)

    console.open_call(SLOW)
    page = console.page
    page.get_by_role("tab", name=re.compile("^Webhooks")).click()
    answer = page.locator(".webhook", has_text="/inspector/slow")
    expect(answer).to_contain_text("answer")
    expect(answer.locator(".outcome")).to_have_text("failed")
    expect(answer.get_by_test_id("attempt")).to_have_count(2)
    expect(answer.get_by_test_id("attempt").nth(1)).to_contain_text("Attempt 2")
    expect(answer).to_contain_text("CallUUID")  # the request's parameters
    fallen_back = page.locator(".webhook", has_text="/inspector/fallback")
    expect(fallen_back).to_contain_text("fallback")
    expect(fallen_back.get_by_test_id("attempt")).to_have_count(1)
    expect(fallen_back.get_by_test_id("attempt")).to_contain_text("HTTP 200")
    expect(fallen_back.get_by_test_id("attempt")).to_contain_text('<Hangup reason="busy"/>')
    console.screenshot("inspector-webhooks")

    console.go("Debugger")
    table = page.get_by_test_id("debugger")
    expect(table.locator("tr", has_text=uuid).first).to_be_visible()
    page.get_by_label("Call UUID").fill(uuid)
    page.get_by_role("button", name="Filter").click()
    rows = table.locator("tbody tr")
    expect(rows.filter(has_not_text=uuid)).to_have_count(0)
    failure = rows.filter(has_text="/inspector/slow")  # the answer URL's failure
    expect(failure).to_have_count(1)
    expect(failure.locator("td").nth(1)).to_have_text("error")
    kind = failure.locator("td").nth(2).inner_text()
    page.get_by_label("Kind").select_option(kind)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(kind)
    page.get_by_label("Level").select_option("warning")
    expect(rows).to_have_count(0)
    expect(page.get_by_text("nothing recorded")).to_be_visible()
    page.get_by_label("Level").select_option("error")
    console.screenshot("inspector-debugger")
    rows.first.get_by_role("link", name=uuid).click()
    expect(page.get_by_role("heading", name=f"Call {uuid}")).to_be_visible()


def mulaw_tone(path: Path) -> Path:
    """Four seconds of 440 Hz in a mu-law WAV file, what SIPp's rtp_stream plays."""
    tone = ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path), "synth", "4"]
    subprocess.run([*tone, "sine", "440"], check=True)
    return path


def test_bridged_call_shows_both_legs_and_their_rtp_figures(
    console: Console, callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    audio = mulaw_tone(workdir / "tone.wav")
    callee = SippUas(workdir, "uas_answer_rtp_until_bye.xml", ring_ms=100, audio=audio)
    document = f'<Response><Dial timeLimit="2"><User>{callee.uri("alice")}</User></Dial></Response>'
    callplane.number(BRIDGED, callplane.application(web.set("/inspector/bridge", document)))
    media_port = ("-mp", str(free_port()))  # not the callee's default one
    caller = sipp(
        workdir,
        "uac_dial_answered_rtp.xml",
        callplane.sip_port,
        to=BRIDGED,
        audio=audio,
        extra=media_port,
    )
    assert caller.returncode == 0, caller.output
    assert callee.result().returncode == 0
    uuid = inbound_call(callplane, BRIDGED)
    wait_for_trace(callplane, uuid, lambda t: len(t["quality"]) >= 2)

    console.open_call(BRIDGED)
    page = console.page
    ladder = page.get_by_test_id("ladder")
    expect(ladder.locator("[data-testid^=party-]")).to_have_count(3)
    b_leg = ladder.locator("[data-testid^=party-]").nth(2)
    expect(b_leg).to_contain_text(f"127.0.0.1:{callee.port}")
    expect(ladder.locator(".sip-label", has_text="BYE")).to_have_count(2)  # caller's, callee's
    console.screenshot("inspector-bridge-ladder")

    page.get_by_role("tab", name=re.compile("^Quality")).click()
    rows = page.get_by_test_id("quality").locator("tbody tr")
    expect(rows).to_have_count(2)
    for row in rows.all():
        received = row.locator("td").nth(2).inner_text()
        assert int(received) > 20, row.inner_text()  # 2 s of 20 ms packets from each SIPp
    legs = [row.locator("td").first.inner_text() for row in rows.all()]
    assert "Caller" in legs and len(set(legs)) == 2, legs
    caller_mos = rows.filter(has_text="Caller").locator("td").last.inner_text()
    assert 1.0 <= float(caller_mos) <= 4.5, caller_mos
    console.screenshot("inspector-quality")

    page.get_by_role("tab", name=re.compile("^Verbs")).click()
    dial = page.get_by_test_id("verb-0")
    expect(dial.locator(".verb-name")).to_have_text("Dial")
    expect(dial.locator(".verb-bar.open")).to_have_count(0)  # it ended with the call
    bar = dial.locator(".verb-bar").bounding_box()
    track = dial.locator(".verb-track").bounding_box()
    assert bar and track and bar["width"] > track["width"] / 2, (bar, track)  # 2 s of ~2.1
