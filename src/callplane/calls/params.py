"""The parameters Callplane sends to customer URLs, named as Plivo names them.

TwiML users get Twilio's names beside Plivo's (CallSid, AccountSid, Called,
Caller), so an application written for either platform finds what it reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callplane.store.models import CallRecord

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
        "ApiVersion": "v1",
    }
    params.update(sip_headers)
    return params


def answer_params(record: CallRecord, sip_headers: dict[str, str]) -> dict[str, str]:
    return {**call_params(record, sip_headers), "Event": "StartApp"}


def hangup_params(record: CallRecord, sip_headers: dict[str, str], q850: str) -> dict[str, str]:
    return {
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
