"""Twilio's names for a call placed through the Twilio-compatible API, or answered by
an application that reads TwiML (made through that API).

Such a call sends Twilio's ids to every URL (answer, action, hangup): they ride in
the call's extra parameters (``Call.sip_headers``), which are laid over the
Plivo-named ones. Status callbacks (``StatusCallbackEvent``) are built here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime

from callplane.calls.call import Call, utcnow
from callplane.calls.params import call_params, twilio_number
from callplane.store.ids import twilio_account_sid, twilio_call_sid
from callplane.store.models import CallRecord

API_VERSION = "2010-04-01"
# The order Twilio sends progress events in.
EVENTS = ("initiated", "ringing", "answered", "completed")


def twilio_ids(record: CallRecord) -> dict[str, str]:
    """The ids, direction and +E.164 numbers of a call placed through the Twilio API."""
    caller, called = twilio_number(record.from_number), twilio_number(record.to_number)
    return {
        **twilio_call_ids(record),
        "Direction": "outbound-api",
        "ApiVersion": API_VERSION,
        "From": caller,
        "Caller": caller,
        "To": called,
        "Called": called,
    }


def twilio_call_ids(record: CallRecord) -> dict[str, str]:
    """``CallSid`` and ``AccountSid`` as the Twilio API shows them (``CA...``, ``AC...``):
    what every request about a call answered by a TwiML application carries, so the
    ids in its webhooks are the ones its REST calls use."""
    return {
        "CallSid": twilio_call_sid(record.call_uuid),
        "AccountSid": twilio_account_sid(record.auth_id),
    }


def placed_through_twilio(extra: Mapping[str, str]) -> bool:
    """Whether a call's extra parameters (``Call.sip_headers``) carry the Twilio ids of
    a call placed through the Twilio API."""
    return extra.get("Direction") == "outbound-api" and extra.get("ApiVersion") == API_VERSION


def status_event(call: Call, event: str) -> dict[str, str]:
    """The parameters of one progress event (not ``completed``: the hangup callback).
    ``SequenceNumber`` counts the call's status callbacks, from 0, as Twilio's does."""
    params = call_params(call.record, call.sip_headers)
    params["CallStatus"] = "in-progress" if event == "answered" else event
    params["CallbackSource"] = "call-progress-events"
    params["SequenceNumber"] = str(call.status_callbacks_sent)
    call.status_callbacks_sent += 1
    params["Timestamp"] = format_datetime(utcnow().replace(tzinfo=UTC), usegmt=True)
    return params
