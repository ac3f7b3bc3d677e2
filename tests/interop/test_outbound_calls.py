"""Calls placed over REST: the plivo SDK's ``calls.create`` against `callplane serve`,
which rings real callees (SIPp user agent servers, a PJSUA2 phone), runs the answer
document on the answered leg and reports to the customer's ring and hangup URLs."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import httpx
import plivo
import pytest

from tests.interop.harness import (
    AUTH_ID,
    AUTH_TOKEN,
    CallplaneServer,
    SippUas,
    WebhookServer,
)
from tests.interop.pjua import AnsweringAccount, UserAgent
from tests.interop.tones import wav_peak_hz, write_tone

CALLER = "14155550100"


def hangup_of(web: WebhookServer, path: str, request_uuid: str) -> dict[str, str]:
    """The hangup callback of the call ``request_uuid`` (several calls may share a URL)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for request in web.seen(path):
            if request.params.get("RequestUUID") == request_uuid:
                return request.params
        time.sleep(0.05)
    raise AssertionError(f"no hangup callback for {request_uuid}: {web.seen(path)}")


def records_of(callplane: CallplaneServer, request_uuid: str) -> list[dict[str, object]]:
    listing = callplane.api("GET", "Call/", params={"call_direction": "outbound", "limit": 20})
    return [r for r in listing["objects"] if r["call_uuid"] == request_uuid]


def test_answered_call_runs_the_answer_document_on_the_callee(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    heard = tmp_path / "callee-heard.wav"
    callee = AnsweringAccount(phone, "bob", record_to=heard, play=None)
    tone = web.set(
        "/out/tone.wav", write_tone(tmp_path / "t.wav", 440, 2).read_bytes(), "audio/wav"
    )
    answer = web.set("/out/answer", f"<Response><Play>{tone}</Play><Hangup/></Response>")
    response = sdk.calls.create(
        from_=CALLER,
        to_=f"sip:bob@127.0.0.1:{phone.sip_port}",
        answer_url=answer,
        hangup_url=web.url("/out/hangup"),
        caller_name="Alice",
    )
    uuid = response.request_uuid
    assert response.message == "call fired"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (callee.calls and callee.calls[0].log.disconnected):
        phone.poll(0.05)
    assert callee.calls and callee.calls[0].log.disconnected  # we sent BYE after Hangup
    for call in callee.calls:
        call.recorder = call.player = None  # pjmedia completes the WAV file on destroy
    gc.collect()
    asked = web.wait_for("/out/answer")[0].params
    assert asked["Direction"] == "outbound" and asked["CallStatus"] == "in-progress"
    assert asked["Event"] == "StartApp" and asked["CallUUID"] == asked["RequestUUID"] == uuid
    assert asked["From"] == CALLER
    hangup = hangup_of(web, "/out/hangup", uuid)
    assert hangup["CallStatus"] == "completed" and hangup["HangupCause"] == "NORMAL_CLEARING"
    assert hangup["Direction"] == "outbound"
    assert abs(wav_peak_hz(heard) - 440) < 20  # the callee heard the Play
    (record,) = records_of(callplane, uuid)
    assert record["call_direction"] == "outbound" and record["call_status"] == "completed"
    assert sdk.calls.get(uuid).call_uuid == uuid
    callee.shutdown()


def test_a_busy_callee_is_reported_busy(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_refuse.xml", code=486, reason="Busy Here")
    answer = web.set("/busy/answer", "<Response><Speak>never</Speak></Response>")
    uuid = sdk.calls.create(
        from_=CALLER, to_=callee.uri(), answer_url=answer, hangup_url=web.url("/busy/hangup")
    ).request_uuid
    assert callee.result().returncode == 0
    hangup = hangup_of(web, "/busy/hangup", uuid)
    assert hangup["CallStatus"] == "busy" and hangup["HangupCause"] == "USER_BUSY"
    assert not web.seen("/busy/answer")
    (record,) = records_of(callplane, uuid)
    assert record["call_status"] == "busy"


def test_no_answer_within_ring_timeout_cancels_the_call(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_ring.xml")
    uuid = sdk.calls.create(
        from_=CALLER,
        to_=callee.uri(),
        answer_url=web.set("/ring/answer", "<Response/>"),
        ring_url=web.url("/ring/ring"),
        hangup_url=web.url("/ring/hangup"),
        ring_timeout=2,
    ).request_uuid
    assert web.wait_for("/ring/ring")[0].params["RequestUUID"] == uuid
    assert callee.result().returncode == 0  # it got our CANCEL
    hangup = hangup_of(web, "/ring/hangup", uuid)
    assert hangup["CallStatus"] == "no-answer" and hangup["HangupCause"] == "NO_ANSWER"


def test_hangup_on_ring_cancels_after_ringing_started(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_ring.xml")
    uuid = sdk.calls.create(
        from_=CALLER,
        to_=callee.uri(),
        answer_url=web.set("/hor/answer", "<Response/>"),
        hangup_url=web.url("/hor/hangup"),
        hangup_on_ring=1,
    ).request_uuid
    assert callee.result().returncode == 0
    assert hangup_of(web, "/hor/hangup", uuid)["CallStatus"] == "cancel"


def test_each_destination_is_its_own_call(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    answering = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    busy = SippUas(workdir, "uas_refuse.xml", code=486, reason="Busy Here")
    answer = web.set("/two/answer", '<Response><Wait length="1"/></Response>')
    response = sdk.calls.create(
        from_=CALLER,
        to_=f"{answering.uri()}<{busy.uri()}",
        answer_url=answer,
        hangup_url=web.url("/two/hangup"),
    )
    first, second = response.request_uuid
    assert response.message == "calls fired" and first != second
    assert answering.result().returncode == 0 and busy.result().returncode == 0
    assert hangup_of(web, "/two/hangup", first)["CallStatus"] == "completed"
    assert hangup_of(web, "/two/hangup", second)["CallStatus"] == "busy"
    assert web.wait_for("/two/answer")[0].params["RequestUUID"] == first


def test_time_limit_hangs_up_an_answered_call(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=0)
    uuid = sdk.calls.create(
        from_=CALLER,
        to_=callee.uri(),
        answer_url=web.set("/limit/answer", '<Response><Wait length="30"/></Response>'),
        hangup_url=web.url("/limit/hangup"),
        time_limit=1,
    ).request_uuid
    assert callee.result().returncode == 0  # it got our BYE
    hangup = hangup_of(web, "/limit/hangup", uuid)
    assert hangup["CallStatus"] == "completed"
    assert hangup["HangupCauseName"] == "Time Limit Reached"


def test_an_unroutable_number_still_gets_a_request_uuid_and_fails(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient
) -> None:
    uuid = sdk.calls.create(
        from_=CALLER,
        to_="15559990000",
        answer_url=web.set("/noroute/answer", "<Response/>"),
        hangup_url=web.url("/noroute/hangup"),
    ).request_uuid
    hangup = hangup_of(web, "/noroute/hangup", uuid)
    assert hangup["CallStatus"] == "failed" and hangup["HangupCause"] == "NO_ROUTE_DESTINATION"


def test_a_ringing_call_is_live_and_the_api_can_cancel_it(
    callplane: CallplaneServer, web: WebhookServer, sdk: plivo.RestClient, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_ring.xml")
    uuid = sdk.calls.create(
        from_=CALLER,
        to_=callee.uri(),
        answer_url=web.set("/live/answer", "<Response/>"),
        ring_url=web.url("/live/ring"),
        hangup_url=web.url("/live/hangup"),
    ).request_uuid
    web.wait_for("/live/ring")
    assert uuid in callplane.api("GET", "Call/", params={"status": "live"})["calls"]
    sdk.calls.delete(uuid)
    assert callee.result().returncode == 0  # it got our CANCEL
    assert hangup_of(web, "/live/hangup", uuid)["CallStatus"] == "cancel"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "15550001111", "answer_url": "http://x.test/a"}, "from"),
        ({"from": CALLER, "to": "abc", "answer_url": "http://x.test/a"}, "to"),
        ({"from": CALLER, "to": "15550001111<", "answer_url": "http://x.test/a"}, "to"),
        ({"from": CALLER, "to": "15550001111", "answer_url": "ftp://x.test/a"}, "answer_url"),
        ({"from": CALLER, "to": "1555", "answer_url": "http://x/a", "ring_timeout": "-1"}, None),
        (
            {"from": CALLER, "to": "1555", "answer_url": "http://x/a", "machine_detection": "true"},
            None,
        ),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    callplane: CallplaneServer, body: dict[str, str], field: str | None
) -> None:
    response = httpx.post(
        callplane.api_base + "Call/", json=body, auth=(AUTH_ID, AUTH_TOKEN), timeout=10
    )
    assert response.status_code == 400
    name = field or next(k for k in body if k not in ("from", "to", "answer_url"))
    assert name in response.json()["error"]
