"""``POST /v1/Account/{auth_id}/Call/``: place outbound calls (``control/originate.py``).

``to`` may name several destinations separated by ``<``, numbers or SIP URIs;
each becomes its own call with its own ``request_uuid`` (a list when there are
several). A destination nobody can route to still gets its uuid: the call fails
and its hangup URL is told, as on Plivo. Malformed fields are 400 naming them.
Without an originator (``app.state.originator``, set by ``callplane serve``)
this answers 503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import (
    ApiError,
    Parser,
    authenticate,
    flag,
    integer,
    parse_fields,
    read_body,
    reply,
    required,
    text,
)
from callplane.api.node import check_taking_calls
from callplane.calls.placed import (
    DEFAULT_RING_TIMEOUT,
    DEFAULT_TIME_LIMIT,
    CallRequest,
    is_sip_uri,
)
from callplane.errors import SipParseError, ValidationError
from callplane.sip.uri import SipUri
from callplane.store.models import Account

UNAVAILABLE = "placing calls is not available on this server"
MAX_DESTINATIONS = 1000
MAX_SECONDS = 86400
MAX_CALLER_NAME = 50
PHONE_NUMBER = re.compile(r"\+?[0-9]{1,20}")
DIGITS = re.compile(r"[0-9*#A-D]{1,64}")
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
UNSAFE_VALUE = re.compile(r"[\x00-\x1f\x7f,]")
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\]")

FIELDS: Mapping[str, Parser] = {
    "from": text,
    "to": text,
    "answer_url": text,
    "answer_method": text,
    "ring_url": text,
    "ring_method": text,
    "hangup_url": text,
    "hangup_method": text,
    "fallback_url": text,
    "fallback_method": text,
    "caller_name": text,
    "time_limit": integer,
    "hangup_on_ring": integer,
    "ring_timeout": integer,
    "send_digits": text,
    "sip_headers": text,
    "machine_detection": text,
    "machine_detection_url": text,
    "parent_call_uuid": text,
    "send_on_preanswer": flag,
}
# Sent by the plivo SDK with its defaults; they change nothing without the features above.
IGNORED = frozenset(
    {
        "machine_detection_time",
        "machine_detection_method",
        "error_if_parent_not_found",
        "callback_url",
        "callback_method",
    }
)
UNSUPPORTED = {
    "machine_detection": "answering machine detection is not supported",
    "machine_detection_url": "answering machine detection is not supported",
    "parent_call_uuid": "placing a call under a parent call is not supported",
    "send_on_preanswer": "send_digits on early media is not supported",
}


class Placer(Protocol):
    def place(self, account: Account, request: CallRequest, to: str) -> str: ...


def placer_of(request: Request) -> Placer:
    placer: Placer | None = getattr(request.app.state, "originator", None)
    if placer is None:
        raise ApiError(503, UNAVAILABLE)
    check_taking_calls(request)
    return placer


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS, IGNORED)
    for name, why in UNSUPPORTED.items():
        if values.get(name):
            raise ValidationError(name, why)
    call = call_request(values)
    destinations = _destinations(required(values, "to"), call.from_number)
    placer = placer_of(request)
    uuids = [placer.place(account, call, to) for to in destinations]
    if len(uuids) == 1:
        return reply(201, message="call fired", request_uuid=uuids[0])
    return reply(201, message="calls fired", request_uuid=uuids)


def call_request(values: Mapping[str, Any]) -> CallRequest:
    """The checked fields of one request, the same for each of its destinations."""
    sender = required(values, "from")
    if not PHONE_NUMBER.fullmatch(sender):
        raise ValidationError("from", "must be a phone number: digits, optionally after +")
    return CallRequest(
        from_number=sender,
        answer_url=_url("answer_url", required(values, "answer_url")),
        answer_method=_method("answer_method", values),
        ring_url=_url("ring_url", values.get("ring_url", "")),
        ring_method=_method("ring_method", values),
        hangup_url=_url("hangup_url", values.get("hangup_url", "")),
        hangup_method=_method("hangup_method", values),
        fallback_url=_url("fallback_url", values.get("fallback_url", "")),
        fallback_method=_method("fallback_method", values),
        caller_name=_caller_name(values.get("caller_name", "")),
        time_limit=_seconds("time_limit", values, DEFAULT_TIME_LIMIT),
        hangup_on_ring=_seconds("hangup_on_ring", values, 0),
        ring_timeout=_seconds("ring_timeout", values, DEFAULT_RING_TIMEOUT),
        send_digits=_digits(values.get("send_digits", "")),
        sip_headers=_sip_headers(values.get("sip_headers", "")),
    )


def _destinations(value: str, sender: str) -> list[str]:
    found = [to.strip() for to in value.split("<")]
    if len(found) > MAX_DESTINATIONS:
        raise ValidationError("to", f"at most {MAX_DESTINATIONS} destinations")
    for to in found:
        check_destination(to)
        if not is_sip_uri(to) and to.lstrip("+") == sender.lstrip("+"):
            raise ValidationError("to", "must not include the from number")
    return found


def check_destination(to: str) -> None:
    if is_sip_uri(to):
        try:
            SipUri.parse(to)
        except SipParseError as exc:
            raise ValidationError("to", f"bad SIP URI {to!r}: {exc}") from None
    elif not PHONE_NUMBER.fullmatch(to):
        raise ValidationError(
            "to", "each destination (separated by <) must be a phone number or a sip: URI"
        )


def _url(name: str, value: str) -> str:
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(name, "must be an http:// or https:// URL")
    return value


def _method(name: str, values: Mapping[str, Any]) -> str:
    method = (values.get(name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise ValidationError(name, "must be GET or POST")
    return str(method)


def _seconds(name: str, values: Mapping[str, Any], default: int) -> int:
    seconds: int | None = values.get(name)
    if seconds is None:
        return default
    if not 0 < seconds <= MAX_SECONDS:
        raise ValidationError(name, f"must be 1 to {MAX_SECONDS} seconds")
    return seconds


def _caller_name(value: str) -> str:
    if len(value) > MAX_CALLER_NAME or UNSAFE_NAME.search(value):
        raise ValidationError(
            "caller_name", f"at most {MAX_CALLER_NAME} characters, without quotes or backslashes"
        )
    return value


def _digits(value: str) -> str:
    if value and not DIGITS.fullmatch(value):
        raise ValidationError("send_digits", "at most 64 of 0-9 * # A-D")
    return value


def _sip_headers(value: str) -> tuple[tuple[str, str], ...]:
    """Plivo's ``name=value,name2=value2``, sent on the INVITE as ``X-PH-name``."""
    if not value:
        return ()
    headers = []
    for item in value.split(","):
        name, eq, header_value = item.partition("=")
        if not eq or not HEADER_NAME.fullmatch(name.strip()) or UNSAFE_VALUE.search(header_value):
            raise ValidationError("sip_headers", "must be name=value pairs separated by commas")
        headers.append((f"X-PH-{name.strip()}", header_value.strip()))
    return tuple(headers)
