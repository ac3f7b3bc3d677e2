"""Twilio's status callbacks as Twilio documents them, checked with the official twilio
SDK against `callplane serve` and SIPp:

- an inbound call to a number made through the Twilio API gets one status callback,
  at the end (no progress events), with the ``CA...``/``AC...`` ids its voice webhook
  and the REST API show;
- a placed call's callbacks number themselves (``SequenceNumber``) in the order they
  were sent, the final one included;
- a placed call nobody answers ends ``no-answer``, in its callback and in the
  ``Status=no-answer`` list filter.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.interop.harness import AUTH_TOKEN, CallplaneServer, SippUas, WebhookServer, sipp
from tests.interop.test_twilio_rest import CALLER, account_sid, statuses, twilio_client

TWILIO_STATUS_FIELDS = ("Timestamp", "CallbackSource", "SequenceNumber", "CallDuration")


@pytest.fixture
def client(callplane: CallplaneServer) -> Client:
    return twilio_client(callplane, account_sid(callplane))


def test_an_inbound_call_gets_one_final_status_callback_with_twilio_ids(
    callplane: CallplaneServer, client: Client, web: WebhookServer, workdir: Path
) -> None:
    number = client.incoming_phone_numbers.create(
        phone_number="+15557770042",
        voice_url=web.set("/tw-in/voice", '<Response><Pause length="1"/><Hangup/></Response>'),
        status_callback=web.url("/tw-in/status"),
    )
    result = sipp(workdir, "uac_answer_bye.xml", callplane.sip_port, to="15557770042")
    assert result.returncode == 0, result.output

    voice = web.wait_for("/tw-in/voice")[0].params
    [status] = web.wait_for("/tw-in/status")
    sid = voice["CallSid"]
    assert sid.startswith("CA") and len(sid) == 34
    assert voice["AccountSid"] == status.params["AccountSid"] == number.account_sid
    assert status.params["CallSid"] == sid and status.params["Direction"] == "inbound"
    assert status.params["CallStatus"] == "completed"
    assert status.params["CallbackSource"] == "call-progress-events"
    assert status.params["SequenceNumber"] == "0" and int(status.params["CallDuration"]) >= 1
    assert parsedate_to_datetime(status.params["Timestamp"]).utcoffset() is not None
    signature = {k.lower(): v for k, v in status.headers.items()}["x-twilio-signature"]
    assert RequestValidator(AUTH_TOKEN).validate(status.url, status.params, signature)
    # the REST API knows the call by the same SID
    fetched = client.calls(sid).fetch()
    assert fetched.direction == "inbound" and fetched.status == "completed"
    assert len(web.seen("/tw-in/status")) == 1  # no initiated/ringing/answered for inbound
    number.delete()


def test_status_callbacks_are_numbered_in_the_order_they_were_sent(
    client: Client, web: WebhookServer, workdir: Path
) -> None:
    callee = SippUas(workdir, "uas_answer_until_bye.xml", ring_ms=100)
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        twiml='<Response><Pause length="1"/><Hangup/></Response>',
        status_callback=web.url("/tw-seq/status"),
        status_callback_event=["ringing", "completed"],
    )
    assert callee.result().returncode == 0
    ringing, completed = statuses(web, "/tw-seq/status", call.sid, 2)
    assert [ringing["CallStatus"], ringing["SequenceNumber"]] == ["ringing", "0"]
    assert [completed["CallStatus"], completed["SequenceNumber"]] == ["completed", "1"]


@pytest.mark.parametrize(
    ("scenario", "progress"),
    [("uas_ring.xml", ["initiated", "ringing"]), ("uas_silent.xml", ["initiated"])],
    ids=["ringing", "silent"],
)
def test_an_unanswered_placed_call_is_no_answer_in_its_callback_and_the_list(
    client: Client, web: WebhookServer, workdir: Path, scenario: str, progress: list[str]
) -> None:
    """Whether the callee rang (180) or never answered at all, Twilio reports no-answer
    once ``Timeout`` passes."""
    callee = SippUas(workdir, scenario, wait_ms=4000)
    path = f"/tw-na/{scenario}"
    call = client.calls.create(
        to=callee.uri(),
        from_=CALLER,
        url=web.set("/tw-na/never", "<Response/>"),
        timeout=2,
        status_callback=web.url(path),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    callee.result()  # CANCELed (ringing) or given up on (silent: SIPp counts a failure)
    *sent, final = statuses(web, path, call.sid, len(progress) + 1)
    assert [s["CallStatus"] for s in sent] == progress
    assert final["CallStatus"] == "no-answer"
    assert final["SequenceNumber"] == str(len(progress))
    assert all(name in final for name in TWILIO_STATUS_FIELDS), final
    assert client.calls(call.sid).fetch().status == "no-answer"
    assert call.sid in [c.sid for c in client.calls.list(status="no-answer", to=callee.uri())]
    assert call.sid not in [c.sid for c in client.calls.list(status="completed")]
    assert not web.seen("/tw-na/never")
