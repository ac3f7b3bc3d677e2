"""Twilio's names for a call placed through the Twilio-compatible API.

Such a call sends Twilio's ids to every URL (answer, action, hangup): they ride in
the call's extra parameters (``Call.sip_headers``), which are laid over the
Plivo-named ones. Status callbacks (``StatusCallbackEvent``) are built here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime

from callplane.calls.call import Call, utcnow
from callplane.calls.params import call_params, twilio_number, twilio_status
from callplane.store.ids import twilio_account_sid, twilio_call_sid
from callplane.store.models import CallRecord

API_VERSION = "2010-04-01"
# The order Twilio sends progress events in (their SequenceNumber).
EVENTS = ("initiated", "ringing", "answered", "completed")


def twilio_ids(record: CallRecord) -> dict[str, str]:
    """Twilio's ids, direction and +E.164 numbers, for every request about the call."""
    caller, called = twilio_number(record.from_number), twilio_number(record.to_number)
    return {
        "CallSid": twilio_call_sid(record.call_uuid),
        "AccountSid": twilio_account_sid(record.auth_id),
        "Direction": "outbound-api",
        "ApiVersion": API_VERSION,
        "From": caller,
        "Caller": caller,
        "To": called,
        "Called": called,
    }


def twilio_statuses(params: dict[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``params`` with Twilio's CallStatus if the call was placed through the Twilio API
    (its extra parameters, ``Call.sip_headers``, carry Twilio's ids)."""
    if extra.get("ApiVersion") == API_VERSION:
        status = params.get("CallStatus", "")
        params["CallStatus"] = twilio_status(status)
    return params


def status_event(call: Call, event: str) -> dict[str, str]:
    """The parameters of one progress event (not ``completed``: the hangup callback)."""
    params = call_params(call.record, call.sip_headers)
    params["CallStatus"] = "in-progress" if event == "answered" else event
    params["CallbackSource"] = "call-progress-events"
    params["SequenceNumber"] = str(EVENTS.index(event))
    params["Timestamp"] = format_datetime(utcnow().replace(tzinfo=UTC), usegmt=True)
    return params
