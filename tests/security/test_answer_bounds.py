"""Answer documents are bounded in bytes and elements (issue 12).

A 140,000-element answer document (980 KB: under the webhook client's 1 MiB
read cap) is refused as invalid without being parsed; the fallback URL is
tried, and its 1,001-element document is refused too. The call fails with
``Invalid Answer XML``, its log names both problems, and SIP answers stay
prompt throughout.
"""

from __future__ import annotations

from pathlib import Path

from tests.interop.harness import CallplaneServer, WebhookServer, sipp
from tests.security.probes import OptionsProbe

SIP_BOUND = 0.050  # seconds


def test_huge_answer_document_is_invalid_and_sip_stays_responsive(
    callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    warm_up = web.set("/answer/busy", "<Response><Hangup reason='busy'/></Response>")
    callplane.number("15550199001", callplane.application(warm_up))
    # The first call of a process pays one-off costs (lazy imports) that are not in question.
    warmed = sipp(tmp_path, "uac_final.xml", callplane.sip_port, to="15550199001", code=486)
    assert warmed.returncode == 0, warmed.output
    answer = web.set("/answer/huge", "<Response>" + "<Wait/>" * 140_000 + "</Response>")
    fallback = web.set("/fallback/many", "<Response>" + "<Wait/>" * 1_000 + "</Response>")
    app_id = callplane.application(answer, fallback_answer_url=fallback)
    callplane.number("15550199000", app_id)
    with OptionsProbe(callplane.sip_port) as probe:
        probe.wait_for(3)
        before = probe.mark()
        result = sipp(tmp_path, "uac_final.xml", callplane.sip_port, to="15550199000", code=500)
        probe.wait_for(3)
    assert result.returncode == 0, result.output
    during = probe.round_trips[before:]
    assert max(during) < SIP_BOUND, f"SIP OPTIONS round trips during the call: {during}"
    web.wait_for("/fallback/many")
    calls = callplane.api("GET", "Call/?limit=20")["objects"]
    record = next(c for c in calls if c["to_number"] == "15550199000")
    assert record["hangup_cause_name"] == "Invalid Answer XML"
    assert "answer URL: document larger than 65536 bytes" in record["error"]
    assert "fallback URL: Wait: more than 1000 elements" in record["error"]
