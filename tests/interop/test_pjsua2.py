"""Calls from PJSUA2, a SIP stack nobody here wrote, to a running callplane serve."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from tests.interop.harness import CallplaneServer, WebhookServer
from tests.interop.pjua import UserAgent


def test_pjsua2_call_refused_busy(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer
) -> None:
    url = web.set("/pj/busy", "<Response><Hangup reason='busy'/></Response>")
    callplane.number("15556660001", callplane.application(url))
    log = phone.wait(phone.call("15556660001", callplane.sip_port))
    assert log.disconnected and log.final_status == 486


def test_pjsua2_call_answered_then_hung_up(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer
) -> None:
    response = VoiceResponse()
    response.hangup()
    url = web.set("/pj/hangup", str(response))
    callplane.number(
        "15556660002",
        callplane.application(url, dialect="twiml", hangup_url=web.url("/pj/hangup-cb")),
    )
    log = phone.wait(phone.call("15556660002", callplane.sip_port))
    assert ("CONFIRMED", 200) in log.states and log.disconnected
    assert web.wait_for("/pj/hangup-cb")[0].params["HangupCauseName"] == "Normal Hangup"
