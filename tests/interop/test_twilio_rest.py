"""The Twilio-compatible REST API driven by the official twilio Python SDK, unmodified
but for its base URL (``client.api.base_url``), against `callplane serve`: account
SIDs, applications, calls that SIPp callees answer, Twilio's status callbacks at a
real webhook server, and errors in Twilio's shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.interop.harness import AUTH_TOKEN, CallplaneServer, SippUas, WebhookServer, sipp

CALLER = "+14155550100"
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def account_sid(callplane: CallplaneServer) -> str:
    sid = callplane.api("GET", "")["twilio_account_sid"]
    assert isinstance(sid, str)
    return sid


def twilio_client(callplane: CallplaneServer, sid: str, token: str = AUTH_TOKEN) -> Client:
    """The SDK as a user points it at Callplane: one base URL."""
    client = Client(sid, token)
    client.api.base_url = f"http://127.0.0.1:{callplane.http_port}"
    return client


@pytest.fixture
def client(callplane: CallplaneServer) -> Iterator[Client]:
    yield twilio_client(callplane, account_sid(callplane))


def statuses(web: WebhookServer, path: str, sid: str, count: int) -> list[dict[str, str]]:
    """The status callbacks of call ``sid`` once ``count`` have come."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [r.params for r in web.seen(path) if r.params.get("CallSid") == sid]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} status callbacks for {sid}: {web.seen(path)}")


def test_the_account_sid_authenticates_and_wrong_tokens_are_refused(
    callplane: CallplaneServer, client: Client
) -> None:
    sid = account_sid(callplane)
    assert sid.startswith("AC") and len(sid) == 34
    assert int(sid[2:], 16) >= 0
    account = client.api.v2010.accounts(sid).fetch()
    assert account.sid == sid and account.status == "active"
    with pytest.raises(TwilioRestException) as refused:
        twilio_client(callplane, sid, "wrong-token").api.v2010.accounts(sid).fetch()
    assert refused.value.status == 401 and refused.value.code == 20003


def test_applications_are_created_listed_updated_and_deleted(client: Client) -> None:
    app = client.applications.create(
        friendly_name="twilio-app", voice_url="http://127.0.0.1:9/voice", voice_method="GET"
    )
    assert app.sid.startswith("AP") and len(app.sid) == 34
    assert app.voice_url == "http://127.0.0.1:9/voice" and app.voice_method == "GET"
    assert client.applications(app.sid).fetch().friendly_name == "twilio-app"
    listed = client.applications.list(friendly_name="twilio-app")
    assert [a.sid for a in listed] == [app.sid]
    updated = client.applications(app.sid).update(status_callback="http://127.0.0.1:9/status")
    assert updated.status_callback == "http://127.0.0.1:9/status"
    with pytest.raises(TwilioRestException) as no_voice_url:
        client.applications.create(friendly_name="no-url")
    assert no_voice_url.value.status == 400 and "VoiceUrl: required" in no_voice_url.value.msg
    assert client.applications(app.sid).delete()
    with pytest.raises(TwilioRestException) as gone:
        client.applications(app.sid).fetch()
    assert gone.value.status == 404 and gone.value.code == 20404


def test_a_placed_call_is_answered_listed_fetched_and_hung_up(
    callplane: CallplaneServer, client: Client, web: WebhookServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=200)
    answer = web.set("/tw/answer", '<Response><Pause length="30"/></Response>')
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        url=answer,
        status_callback=web.url("/tw/status"),
        status_callback_event=ALL_EVENTS,
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34 and call.status == "queued"
    assert call.account_sid == account_sid(callplane) and call.direction == "outbound-api"
    initiated, ringing, answered = statuses(web, "/tw/status", call.sid, 3)[:3]
    assert [initiated["CallStatus"], ringing["CallStatus"], answered["CallStatus"]] == [
        "initiated",
        "ringing",
        "in-progress",
    ]
    asked = web.wait_for("/tw/answer")[0].params
    assert asked["CallSid"] == call.sid and asked["AccountSid"] == call.account_sid
    assert asked["Direction"] == "outbound-api" and asked["From"] == CALLER  # Twilio's +E.164
    fetched = client.calls(call.sid).fetch()
    assert fetched.status == "in-progress" and fetched.to == callee.uri()
    listed = client.calls.list(from_=CALLER, page_size=5)
    assert call.sid in [c.sid for c in listed]
    redirected = web.set("/tw/redirected", '<Response><Pause length="30"/></Response>')
    client.calls(call.sid).update(url=redirected, method="GET")
    moved = web.wait_for("/tw/redirected")[0]
    assert moved.method == "GET" and moved.params["CallSid"] == call.sid
    ended = client.calls(call.sid).update(status="completed")
    assert ended.status == "completed"
    assert callee.result().returncode == 0  # it got our BYE
    completed = statuses(web, "/tw/status", call.sid, 4)[3]
    assert completed["CallStatus"] == "completed" and completed["AccountSid"] == call.account_sid
    assert completed["Direction"] == "outbound-api" and int(completed["CallDuration"]) >= 0
    deadline = time.monotonic() + 10
    while client.calls(call.sid).fetch().status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    record = client.calls(call.sid).fetch()
    assert record.end_time is not None and record.duration is not None


def test_inline_twiml_runs_without_a_url_and_only_completed_is_sent_by_default(
    client: Client, web: WebhookServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        twiml='<Response><Pause length="1"/><Hangup/></Response>',
        status_callback=web.url("/tw/inline-status"),
    )
    assert callee.result().returncode == 0  # answered, then our BYE after the Hangup
    (completed,) = statuses(web, "/tw/inline-status", call.sid, 1)
    assert completed["CallStatus"] == "completed"
    assert [r.params["CallStatus"] for r in web.seen("/tw/inline-status")] == ["completed"]


def test_a_ringing_call_is_canceled(client: Client, web: WebhookServer, workdir: Path) -> None:
    callee = SippUas(workdir, "uas_ring.xml")
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        url=web.set("/tw/never", "<Response/>"),
        status_callback=web.url("/tw/cancel-status"),
        status_callback_event=["ringing", "completed"],
    )
    statuses(web, "/tw/cancel-status", call.sid, 1)
    assert client.calls(call.sid).update(status="canceled").status == "canceled"
    assert callee.result().returncode == 0  # it got our CANCEL
    final = statuses(web, "/tw/cancel-status", call.sid, 2)[1]
    assert final["CallStatus"] == "canceled"
    assert not web.seen("/tw/never")


def test_unsupported_and_bad_requests_get_twilio_errors(
    callplane: CallplaneServer, client: Client, workdir: Path
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        client.calls.create(to="+15550001111", from_=CALLER, url="http://x.test/", record=True)
    assert refused.value.status == 400 and "Record" in refused.value.msg
    with pytest.raises(TwilioRestException) as amd:
        client.calls.create(
            to="+15550001111", from_=CALLER, url="http://x.test/", machine_detection="Enable"
        )
    assert amd.value.status == 400 and "MachineDetection" in amd.value.msg
    with pytest.raises(TwilioRestException) as no_url:
        client.calls.create(to="+15550001111", from_=CALLER)
    assert no_url.value.status == 400 and no_url.value.code == 21205
    with pytest.raises(TwilioRestException) as bad_twiml:
        client.calls.create(to="+15550001111", from_=CALLER, twiml="<Response><Say>")
    assert bad_twiml.value.status == 400
    with pytest.raises(TwilioRestException) as missing:
        client.calls("CA" + "0" * 32).fetch()
    assert missing.value.status == 404 and missing.value.code == 20404
    raw = httpx.get(
        f"http://127.0.0.1:{callplane.http_port}/2010-04-01/Accounts/{account_sid(callplane)}"
        "/Nothing.json",
        auth=(account_sid(callplane), AUTH_TOKEN),
    )
    assert raw.status_code == 404 and raw.json()["code"] == 20404


def test_incoming_phone_numbers_route_calls_to_their_voice_url_or_application(
    callplane: CallplaneServer, client: Client, web: WebhookServer, workdir: Path
) -> None:
    busy = web.set("/tw/number-voice", '<Response><Reject reason="busy"/></Response>')
    number = client.incoming_phone_numbers.create(
        phone_number="+15557770001",
        friendly_name="support line",
        voice_url=busy,
        status_callback=web.url("/tw/number-status"),
    )
    assert number.sid.startswith("PN") and number.phone_number == "+15557770001"
    assert number.voice_url == busy and number.voice_application_sid is None
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to="15557770001", code=486)
    assert result.returncode == 0, result.output
    asked = web.wait_for("/tw/number-voice")[0].params
    assert asked["To"] == "+15557770001" and asked["Direction"] == "inbound"
    assert web.wait_for("/tw/number-status")[0].params["CallStatus"] == "busy"

    declined = web.set("/tw/app-voice", '<Response><Reject reason="rejected"/></Response>')
    app = client.applications.create(friendly_name="front desk", voice_url=declined)
    moved = client.incoming_phone_numbers(number.sid).update(voice_application_sid=app.sid)
    assert moved.voice_application_sid == app.sid and moved.voice_url is None
    own = [a for a in client.applications.list() if a.friendly_name.startswith("Incoming")]
    assert own == []  # the number's own application went when it moved to another
    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to="15557770001", code=603)
    assert result.returncode == 0, result.output
    assert web.wait_for("/tw/app-voice")[0].params["To"] == "+15557770001"

    listed = client.incoming_phone_numbers.list(friendly_name="support line")
    assert [n.sid for n in listed] == [number.sid]
    assert client.incoming_phone_numbers(number.sid).fetch().friendly_name == "support line"
    assert client.incoming_phone_numbers(number.sid).delete()
    with pytest.raises(TwilioRestException) as gone:
        client.incoming_phone_numbers(number.sid).fetch()
    assert gone.value.status == 404


def test_recordings_are_listed_fetched_served_and_deleted(
    callplane: CallplaneServer, client: Client, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        twiml='<Response><Record maxLength="1" playBeep="false"/><Hangup/></Response>',
    )
    assert callee.result().returncode == 0
    deadline = time.monotonic() + 15
    while not (found := client.recordings.list(call_sid=call.sid)):
        assert time.monotonic() < deadline, "no recording listed"
        time.sleep(0.05)
    (recording,) = found
    assert recording.sid.startswith("RE") and recording.call_sid == call.sid
    assert client.recordings(recording.sid).fetch().uri == recording.uri
    assert [r.sid for r in client.calls(call.sid).recordings.list()] == [recording.sid]
    assert recording.media_url.startswith(f"http://127.0.0.1:{callplane.http_port}/")
    audio = httpx.get(recording.media_url, auth=(call.account_sid, AUTH_TOKEN))
    assert audio.status_code == 200 and audio.content.startswith((b"RIFF", b"ID3", b"\xff"))
    assert client.recordings(recording.sid).delete()
    with pytest.raises(TwilioRestException) as gone:
        client.recordings(recording.sid).fetch()
    assert gone.value.status == 404


def test_wrong_tokens_for_the_account_sid_count_towards_the_ban(
    callplane: CallplaneServer,
) -> None:
    sid = account_sid(callplane)
    url = f"http://127.0.0.1:{callplane.http_port}/2010-04-01/Accounts/{sid}/Calls.json"
    transport = httpx.HTTPTransport(local_address="127.0.0.5")  # its own address: its own ban
    with httpx.Client(transport=transport, timeout=10) as guesser:
        for attempt in range(10):  # the default --auth-failures
            response = guesser.get(url, auth=(sid, f"guess-{attempt}"))
            assert response.status_code == 401 and response.json()["code"] == 20003
        banned = guesser.get(url, auth=(sid, AUTH_TOKEN))
        assert banned.status_code == 403 and banned.json()["status"] == 403
    assert "banned 127.0.0.5" in callplane.logs()
    with httpx.Client(timeout=10) as other:
        assert other.get(url, auth=(sid, AUTH_TOKEN)).status_code == 200


def test_a_call_placed_with_an_application_sid_uses_the_applications_urls(
    client: Client, web: WebhookServer, workdir: Path
) -> None:
    app = client.applications.create(
        friendly_name="outbound-app",
        voice_url=web.set("/tw/app-answer", "<Response><Hangup/></Response>"),
        status_callback=web.url("/tw/app-status"),
    )
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    call = client.calls.create(to=callee.uri(), from_=CALLER, application_sid=app.sid)
    assert callee.result().returncode == 0
    assert web.wait_for("/tw/app-answer")[0].params["CallSid"] == call.sid
    (completed,) = statuses(web, "/tw/app-status", call.sid, 1)
    assert completed["CallStatus"] == "completed"


def test_a_sub_account_has_its_own_sid_and_its_parent_may_use_its_path(
    callplane: CallplaneServer, client: Client
) -> None:
    sub = callplane.api("POST", "Subaccount/", json={"name": "tenant", "enabled": True})
    shown = httpx.get(
        f"http://127.0.0.1:{callplane.http_port}/v1/Account/{sub['auth_id']}/",
        auth=(sub["auth_id"], sub["auth_token"]),
    ).json()
    sub_sid = shown["twilio_account_sid"]
    assert sub_sid.startswith("AC") and sub_sid != account_sid(callplane)
    tenant = twilio_client(callplane, sub_sid, sub["auth_token"])
    assert tenant.api.v2010.accounts(sub_sid).fetch().sid == sub_sid
    main_app = client.applications.create(friendly_name="main-only", voice_url="http://x.test/")
    assert main_app.sid not in [a.sid for a in tenant.applications.list()]
    with pytest.raises(TwilioRestException) as foreign:
        tenant.applications(main_app.sid).fetch()
    assert foreign.value.status == 404
    with pytest.raises(TwilioRestException) as other_path:
        tenant.api.v2010.accounts(account_sid(callplane)).fetch()
    assert other_path.value.status == 401
    tenant_app = tenant.applications.create(friendly_name="tenant-app", voice_url="http://x.test/")
    parent = Client(account_sid(callplane), AUTH_TOKEN, account_sid=sub_sid)  # Twilio's way
    parent.api.base_url = f"http://127.0.0.1:{callplane.http_port}"
    assert [a.sid for a in parent.applications.list()] == [tenant_app.sid]
