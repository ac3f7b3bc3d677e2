"""The call inspector when the trace is incomplete or absent: with `--trace failed` and
the smallest `--trace-max-bytes`, a failed call's (its document is invalid) trace is cut
short and an answered call keeps none, and the console says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.console.browser import Console
from tests.console.conftest import serve
from tests.console.traces import inbound_call, wait_for_trace
from tests.interop.harness import CallplaneServer, WebhookServer, sipp

ANSWERED = "15550007301"
FAILED = "15550007302"


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    yield from serve(tmp_path_factory, "--trace", "failed", "--trace-max-bytes", "1024")


def test_a_truncated_trace_and_a_call_without_trace_say_so(
    console: Console, callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    wait = web.set("/limits/wait", '<Response><Wait length="1"/></Response>')
    callplane.number(ANSWERED, callplane.application(wait))
    invalid = web.set("/limits/invalid", "<Response><Bogus/></Response>")
    callplane.number(FAILED, callplane.application(invalid))

    answered = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to=ANSWERED)
    assert answered.returncode == 0, answered.output
    failed = sipp(workdir, "uac_final.xml", callplane.sip_port, to=FAILED, code=500)
    assert failed.returncode == 0, failed.output
    inbound_call(callplane, ANSWERED)
    # Kept later than the answered call was passed over: the answered call is settled too.
    trace = wait_for_trace(callplane, inbound_call(callplane, FAILED), lambda t: True)
    assert trace["truncated"] and len(trace["sip"]) < 4, trace

    console.open_call(FAILED)
    page = console.page
    expect(page.get_by_role("note")).to_have_text(re.compile("truncated"))
    expect(page.get_by_test_id("ladder").locator(".sip-arrow")).to_have_count(len(trace["sip"]))
    console.screenshot("inspector-truncated")

    console.open_call(ANSWERED)
    expect(page.get_by_test_id("panel-ladder")).to_contain_text("No trace was kept for this call")
    expect(page.get_by_role("link", name="Download SIP text export")).to_have_count(0)
    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_test_id("timeline").locator("li").first).to_be_visible()
