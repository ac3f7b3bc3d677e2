"""The parameters Callplane sends to customer URLs, named as Plivo names them.

TwiML users get Twilio's names beside Plivo's (CallSid, AccountSid, Called,
Caller, ApiVersion), so an application written for either platform finds what
it reads. Where both platforms use one name with different values, a TwiML
application gets Twilio's (:func:`in_dialect`): ``CallStatus``/``DialCallStatus``
``canceled`` and ``no-answer`` for Plivo's ``cancel`` and ``timeout``,
``Direction`` ``outbound-api`` for a call placed over the REST API, and phone
numbers in ``From``/``To``/``Caller``/``Called`` in E.164 with its ``+`` (Plivo
writes them without; SIP URIs and names stay as they are).
``ApiVersion`` is Twilio's ``2010-04-01`` for everyone (Plivo sends none).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from callplane.markup.verbs import Dialect
from callplane.store.models import CallRecord

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TWILIO_API_VERSION = "2010-04-01"
_TWILIO_STATUS = {"cancel": "canceled", "timeout": "no-answer"}
_TWILIO_DIRECTION = {"outbound": "outbound-api"}
_NUMBER_PARAMS = ("From", "To", "Caller", "Called")


def plivo_time(moment: datetime | None) -> str:
    return moment.strftime(TIME_FORMAT) if moment else ""


def call_params(record: CallRecord, sip_headers: dict[str, str]) -> dict[str, str]:
    """Parameters common to every request about this call."""
    params = {
        "CallUUID": record.call_uuid,
        "From": record.from_number,
        "To": record.to_number,
        "CallerName": record.caller_name,
        "Direction": record.call_direction,
        "CallStatus": record.call_status,
        "BillRate": record.total_rate,
        "ALegUUID": record.call_uuid,
        "ALegRequestUUID": "",
        "SessionStart": plivo_time(record.initiation_time),
        "CallSid": record.call_uuid,
        "AccountSid": record.auth_id,
        "Called": record.to_number,
        "Caller": record.from_number,
        "ApiVersion": TWILIO_API_VERSION,
    }
    params.update(sip_headers)
    return params


def answer_params(record: CallRecord, sip_headers: dict[str, str]) -> dict[str, str]:
    return {**call_params(record, sip_headers), "Event": "StartApp"}


def hangup_params(
    record: CallRecord,
    sip_headers: dict[str, str],
    q850: str,
    dialect: Dialect | None = None,
    sequence: int = 0,
) -> dict[str, str]:
    """The hangup callback; for a TwiML application it is also Twilio's final status
    callback (``Timestamp``, ``CallbackSource``, ``SequenceNumber``: ``sequence``, the
    number of status callbacks sent before it)."""
    params = {
        **call_params(record, sip_headers),
        "Event": "Hangup",
        "HangupCause": q850,
        "HangupCauseName": record.hangup_cause_name,
        "HangupCauseCode": str(record.hangup_cause_code),
        "HangupSource": record.hangup_source,
        "Duration": str(record.call_duration),
        "BillDuration": str(record.bill_duration),
        "StartTime": plivo_time(record.initiation_time),
        "AnswerTime": plivo_time(record.answer_time),
        "EndTime": plivo_time(record.end_time),
        "TotalCost": record.total_amount,
        "CallDuration": str(record.call_duration),
    }
    if dialect is not Dialect.TWIML:
        return params
    moment = (record.end_time or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
    params["Timestamp"] = format_datetime(moment)  # RFC 2822, "Tue, 01 Dec 2026 10:00:00 +0000"
    params["CallbackSource"] = "call-progress-events"
    params["SequenceNumber"] = str(sequence)
    return in_dialect(params, dialect)


def rejected_event(record: CallRecord, reason: str) -> dict[str, str]:
    """The JSON ``call-rejected`` status event (VoXML style); ``timestamp`` is when the
    call was refused, UTC with ``Z`` (``2026-01-02T03:04:05.678Z``)."""
    when = record.end_time or record.initiation_time or datetime.now(UTC)
    if when.tzinfo is not None:  # record times are naive UTC; a clock reading is not
        when = when.astimezone(UTC).replace(tzinfo=None)
    return {
        "event": "call-rejected",
        "call_uuid": record.call_uuid,
        "status": "rejected",
        "reject_reason": reason,
        "from": record.from_number,
        "to": record.to_number,
        "timestamp": when.isoformat(timespec="milliseconds") + "Z",
    }


def twilio_status(status: str) -> str:
    """A call or dial status as Twilio names it."""
    return _TWILIO_STATUS.get(status, status)


def twilio_number(number: str) -> str:
    """A phone number as Twilio writes it (``+14155550100``); anything else unchanged."""
    return f"+{number}" if number.isdigit() else number


def in_dialect(params: dict[str, str], dialect: Dialect | None) -> dict[str, str]:
    """``params`` with Twilio's values where Twilio's differ, for a TwiML application."""
    if dialect is not Dialect.TWIML:
        return params
    changed = dict(params)
    if "CallStatus" in changed:
        changed["CallStatus"] = twilio_status(changed["CallStatus"])
    if "Direction" in changed:
        changed["Direction"] = _TWILIO_DIRECTION.get(changed["Direction"], changed["Direction"])
    for name in _NUMBER_PARAMS:
        if name in changed:
            changed[name] = twilio_number(changed[name])
    return changed
