"""Store models -> the JSON objects of Plivo's API (plus Callplane's own fields)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from callplane.store.ids import twilio_account_sid
from callplane.store.models import (
    Account,
    ApiKey,
    Application,
    BlockRule,
    CallRecord,
    Endpoint,
    Number,
    Recording,
    UsagePeriod,
)

# Plivo's call_state values, from our CallStatus (design.md section 4).
_CALL_STATES = {
    "ringing": "RINGING",
    "in-progress": "ANSWER",
    "completed": "ANSWER",
    "busy": "BUSY",
    "no-answer": "NO_ANSWER",
    "cancel": "CANCEL",
    "timeout": "TIMEOUT",
    "failed": "FAILED",
}


def account_uri(auth_id: str) -> str:
    return f"/v1/Account/{auth_id}/"


def sub_account(auth_id: str) -> str | None:
    """Plivo's ``sub_account`` of a resource: the owning sub-account's id, else None."""
    return auth_id if auth_id.startswith("SA") else None


def plivo_time(value: datetime | None) -> str | None:
    """Plivo's ``yyyy-MM-dd HH:mm:ss+00:00`` (we answer in UTC)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(sep=" ", timespec="seconds")


def application(app: Application, sip_host: str) -> dict[str, Any]:
    return {
        "app_id": app.app_id,
        "app_name": app.app_name,
        "answer_url": app.answer_url,
        "answer_method": app.answer_method,
        "fallback_answer_url": app.fallback_answer_url,
        "fallback_method": app.fallback_method,
        "hangup_url": app.hangup_url,
        "hangup_method": app.hangup_method,
        "message_url": app.message_url,
        "message_method": app.message_method,
        "default_app": app.default_number_app,
        "default_endpoint_app": app.default_endpoint_app,
        "application_type": "XML",
        "enabled": True,
        "log_incoming_messages": True,
        "public_uri": False,
        "sub_account": sub_account(app.auth_id),
        "sip_uri": f"sip:{app.app_id}@{sip_host}",
        "resource_uri": f"{account_uri(app.auth_id)}Application/{app.app_id}/",
        "status_callback_url": app.status_callback_url,
        "status_callback_method": app.status_callback_method,
        "dialect": app.dialect,
        "max_concurrent_calls": app.max_concurrent_calls,
        "created": plivo_time(app.created),
    }


def number(num: Number) -> dict[str, Any]:
    base = account_uri(num.auth_id)
    return {
        "number": num.number,
        "alias": num.alias or None,
        "app_id": num.app_id,
        "application": f"{base}Application/{num.app_id}/" if num.app_id else None,
        "carrier": num.carrier,
        "region": num.region,
        "number_type": num.number_type,
        "added_on": num.added_on.date().isoformat() if num.added_on else None,
        "active": True,
        "voice_enabled": True,
        "sms_enabled": False,
        "mms_enabled": False,
        "monthly_rental_rate": "0.00000",
        "voice_rate": "0.00000",
        "sms_rate": "0.00000",
        "sub_account": sub_account(num.auth_id),
        "resource_uri": f"{base}Number/{num.number}/",
        "max_concurrent_calls": num.max_concurrent_calls,
    }


def call(record: CallRecord) -> dict[str, Any]:
    return {
        "call_uuid": record.call_uuid,
        "parent_call_uuid": record.parent_call_uuid,
        "call_direction": record.call_direction,
        "from_number": record.from_number,
        "to_number": record.to_number,
        "caller_name": record.caller_name,
        "initiation_time": plivo_time(record.initiation_time),
        "answer_time": plivo_time(record.answer_time),
        "end_time": plivo_time(record.end_time),
        "call_duration": record.call_duration,
        "bill_duration": record.bill_duration,
        "billed_duration": record.billed_duration,
        "total_amount": record.total_amount,
        "total_rate": record.total_rate,
        "hangup_cause_code": record.hangup_cause_code,
        "hangup_cause_name": record.hangup_cause_name,
        "hangup_source": record.hangup_source,
        "call_state": _call_state(record),
        "resource_uri": f"{account_uri(record.auth_id)}Call/{record.call_uuid}/",
        "app_id": record.app_id,
        "call_status": record.call_status,
        "state": record.state,
        "sip_response_code": record.sip_response_code,
        "error": record.error,
        "events": record.events,
    }


def _call_state(record: CallRecord) -> str:
    if record.answer_time is not None:
        return "ANSWER"
    return _CALL_STATES.get(record.call_status, record.call_status.upper())


def block_rule(rule: BlockRule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "match": rule.match.value,
        "pattern": rule.pattern,
        "reason": rule.reason,
        "number": rule.number,
        "app_id": rule.app_id,
        "created": plivo_time(rule.created),
        "resource_uri": f"{account_uri(rule.auth_id)}Blocklist/{rule.rule_id}/",
    }


def account(acct: Account) -> dict[str, Any]:
    """Never includes the auth token."""
    return {
        "auth_id": acct.auth_id,
        "name": acct.name,
        "account_type": "standard",
        "billing_mode": "postpaid",
        "cash_credits": "0.00000",
        "auto_recharge": False,
        "address": acct.address,
        "city": acct.city,
        "state": "",
        "timezone": "UTC",
        "resource_uri": account_uri(acct.auth_id),
        "parent_auth_id": acct.parent_auth_id,
        "enabled": acct.enabled,
        "inbound_cps": acct.inbound_cps,
        "rate_per_minute": acct.rate_per_minute,
        "billing_interval": acct.billing_interval,
        "created": plivo_time(acct.created),
        "twilio_account_sid": twilio_account_sid(acct.auth_id),
    }


def subaccount(acct: Account) -> dict[str, Any]:
    """Plivo's Subaccount object; it does carry the sub-account's auth token."""
    parent = acct.parent_auth_id or ""
    return {
        "account": account_uri(parent),
        "auth_id": acct.auth_id,
        "auth_token": acct.auth_token,
        "name": acct.name,
        "enabled": acct.enabled,
        "created": acct.created.date().isoformat() if acct.created else None,
        "modified": None,
        "resource_uri": f"{account_uri(parent)}Subaccount/{acct.auth_id}/",
        "rate_per_minute": acct.rate_per_minute,
        "billing_interval": acct.billing_interval,
        "inbound_cps": acct.inbound_cps,
        "private_networks": "allow" if acct.private_networks else "deny",
    }


def endpoint(ep: Endpoint, sip_host: str) -> dict[str, Any]:
    """Plivo's Endpoint object, without any password or digest."""
    base = account_uri(ep.auth_id)
    return {
        "endpoint_id": ep.endpoint_id,
        "username": ep.username,
        "alias": ep.alias,
        "sip_uri": f"sip:{ep.username}@{sip_host}",
        "application": f"{base}Application/{ep.app_id}/" if ep.app_id else None,
        "app_id": ep.app_id,
        "sip_registered": "false",
        "sub_account": sub_account(ep.auth_id),
        "realm": ep.realm,
        "created": plivo_time(ep.created),
        "resource_uri": f"{base}Endpoint/{ep.endpoint_id}/",
    }


def api_key(key: ApiKey) -> dict[str, Any]:
    """Never the secret (nor its digest)."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "created": plivo_time(key.created),
        "resource_uri": f"{account_uri(key.auth_id)}ApiKey/{key.key_id}/",
    }


def usage(item: UsagePeriod) -> dict[str, Any]:
    return {
        "period": item.period,
        "calls": item.calls,
        "answered_calls": item.answered_calls,
        "rejected_calls": item.rejected_calls,
        "billed_seconds": item.billed_seconds,
        "billed_minutes": round(item.billed_seconds / 60, 4),
        "cost": item.cost,
    }


def recording(rec: Recording, base_url: str) -> dict[str, Any]:
    """Plivo's Recording; ``recording_url`` serves the file at ``base_url`` (scheme+host).

    Plivo writes the millisecond fields as decimal strings ("345100.00000").
    """
    uri = f"{account_uri(rec.auth_id)}Recording/{rec.recording_id}/"
    return {
        "recording_id": rec.recording_id,
        "call_uuid": rec.call_uuid,
        "recording_format": rec.recording_format,
        "recording_type": rec.recording_type,
        "recording_url": f"{base_url}{uri.rstrip('/')}.{rec.recording_format}",
        "recording_duration_ms": _plivo_ms(rec.recording_duration_ms),
        "recording_start_ms": _plivo_ms(rec.recording_start_ms),
        "recording_end_ms": _plivo_ms(rec.recording_end_ms),
        "rounded_recording_duration": math.ceil(rec.recording_duration_ms / 1000),
        "add_time": plivo_time(rec.add_time),
        "conference_name": None,
        "from_number": rec.from_number,
        "to_number": rec.to_number,
        "sub_account": sub_account(rec.auth_id),
        "resource_uri": uri,
    }


def _plivo_ms(value: int) -> str:
    return f"{value:.5f}"


def live_call(record: CallRecord) -> dict[str, Any]:
    """Plivo's live call (``GET /Call/{uuid}/?status=live``)."""
    shape = {
        "call_uuid": record.call_uuid,
        "direction": record.call_direction,
        "from": record.from_number,
        "to": record.to_number,
        "caller_name": record.caller_name,
        "call_status": record.call_status,
        "session_start": _session_start(record.initiation_time),
        "parent_call_uuid": record.parent_call_uuid,
        "app_id": record.app_id,
        "resource_uri": f"{account_uri(record.auth_id)}Call/{record.call_uuid}/",
    }
    if record.call_direction == "outbound":
        shape["request_uuid"] = record.call_uuid
    return shape


def _session_start(value: datetime | None) -> str | None:
    """Plivo's ``yyyy-MM-dd HH:mm:ss.ffffff`` (UTC, no offset) of a live call."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
