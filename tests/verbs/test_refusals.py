"""Reject, Hangup and Redirect: what the caller's INVITE is answered with, and what follows."""

from __future__ import annotations

import asyncio

import pytest

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.markup.verbs import Dialect, Hangup, Redirect, Reject, RejectReason, Speak
from callplane.verbs import EXECUTORS
from callplane.verbs.base import ENDED, NEXT, NewDocument
from tests.verbs.fakes import FakeLeg, FakeServices


# design.md §3, written out here so a change to REJECT_SIP is caught.
@pytest.mark.parametrize(
    ("reason", "code", "status", "cause_name"),
    [
        ("rejected", 603, "no-answer", "Rejected"),
        ("busy", 486, "busy", "Busy Line"),
        ("forbidden", 403, "failed", "Forbidden"),
        ("anonymity_disallowed", 433, "failed", "Anonymity Disallowed"),
        ("address_incomplete", 484, "failed", "Address Incomplete"),
        ("no_route", 404, "failed", "No Route"),
        ("service_unavailable", 503, "failed", "Service Unavailable"),
        ("unwanted", 607, "failed", "Unwanted"),
    ],
)
async def test_reject_refuses_unanswered_with_the_reasons_sip_code(
    call: Call, leg: FakeLeg, services: FakeServices, reason, code, status, cause_name
) -> None:
    outcome = await EXECUTORS[Reject](call, Reject(RejectReason(reason)))

    assert outcome == ENDED
    assert leg.codes == [code]  # never a 200 or 183: a rejected call is not answered
    assert leg.media is None and leg.byes == 0
    assert call.ended and call.reject_reason == reason
    assert (call.record.call_status, call.record.hangup_cause_name) == (status, cause_name)
    assert call.record.sip_response_code == code and call.record.bill_duration == 0
    assert [cause.name for _, cause in services.ended] == [cause_name]


async def test_reject_on_an_answered_call_hangs_up_with_bye(call: Call, leg: FakeLeg) -> None:
    assert await call.answer()

    outcome = await EXECUTORS[Reject](call, Reject(RejectReason.BUSY))

    assert outcome == ENDED
    assert leg.codes == [200] and leg.byes == 1
    assert call.record.hangup_cause_name == causes.NORMAL_HANGUP.name
    assert call.record.call_status == "completed"


async def test_hangup_answers_then_sends_bye(call: Call, leg: FakeLeg) -> None:
    outcome = await EXECUTORS[Hangup](call, Hangup())

    assert outcome == ENDED
    assert leg.codes == [200] and leg.byes == 1
    assert call.record.answer_time is not None
    assert (call.record.call_status, call.record.hangup_source) == ("completed", "Answer XML")


async def test_hangup_in_early_media_refuses_with_its_reason(call: Call, leg: FakeLeg) -> None:
    assert await call.early_media()

    outcome = await EXECUTORS[Hangup](call, Hangup(reason="busy"))

    assert outcome == ENDED
    assert leg.codes == [183, 486] and leg.byes == 0
    assert call.record.call_status == "busy"


async def test_hangup_that_cannot_answer_ends_with_488(call: Call, leg: FakeLeg) -> None:
    leg.no_common_codec = True

    assert await EXECUTORS[Hangup](call, Hangup()) == ENDED

    assert leg.codes == [488] and leg.byes == 0
    assert call.record.hangup_cause_name == causes.NO_COMMON_CODEC.name


async def test_scheduled_hangup_lets_the_document_go_on_then_hangs_up(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    assert await call.answer()
    loop = asyncio.get_running_loop()
    start = loop.time()

    assert await EXECUTORS[Hangup](call, Hangup(schedule=7)) == NEXT
    assert not call.ended and leg.byes == 0
    await services.settle()

    assert leg.byes == 1 and call.ended
    assert loop.time() - start == pytest.approx(7, abs=0.1)
    assert call.record.hangup_cause_name == causes.NORMAL_HANGUP.name


async def test_redirect_fetches_the_next_document_with_the_call_parameters(
    call: Call, services: FakeServices
) -> None:
    url = "http://app.test/next"
    services.webhooks.answer(url, "<Response><Speak>hello again</Speak></Response>")

    outcome = await EXECUTORS[Redirect](call, Redirect(url, "GET"))

    assert isinstance(outcome, NewDocument)
    assert outcome.document.dialect is Dialect.PLIVO
    assert outcome.document.verbs == (Speak("hello again"),)
    request = services.webhooks.one(url)
    assert (request.kind, request.method, request.auth_token) == ("fetch", "GET", "verbs-token")
    assert request.params["CallUUID"] == call.uuid
    assert request.params["CallStatus"] == "ringing"
    assert request.params["From"] == "15557654321" and "Event" not in request.params


async def test_redirect_to_a_failing_url_refuses_the_call_with_500(
    call: Call, leg: FakeLeg, services: FakeServices
) -> None:
    outcome = await EXECUTORS[Redirect](call, Redirect("http://app.test/missing"))

    assert outcome == ENDED
    assert leg.codes == [500]
    assert call.record.hangup_cause_name == causes.ANSWER_URL_FAILED.name
    assert [r.url for r in services.webhooks.requests] == ["http://app.test/missing"]
