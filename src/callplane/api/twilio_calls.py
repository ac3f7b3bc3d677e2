"""``/2010-04-01/Accounts/{AccountSid}/Calls``: Twilio's Call resource over Callplane's
placed calls (``control/originate.py``), live-call control (``control/live.py``) and
call records.

A call's SID is ``CA`` + its CallUUID's hex digits; the bare UUID is accepted too.
What Callplane cannot do (recording, answering machine detection...) is refused with
a 400 naming the parameter, never silently ignored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse, http_method, store_of
from callplane.api.live import live_of
from callplane.api.live_protocol import LiveCalls
from callplane.api.outbound_calls import PHONE_NUMBER, check_destination, placer_of
from callplane.api.twilio_apps import app_id_of_sid
from callplane.calls.params import twilio_number, twilio_status
from callplane.calls.placed import DEFAULT_TIME_LIMIT, CallRequest, TwilioCallbacks
from callplane.calls.twilio_params import EVENTS
from callplane.errors import MarkupError, NotFound, ValidationError
from callplane.markup import parse_document
from callplane.markup.verbs import Dialect, Document
from callplane.store.ids import twilio_call_sid, uuid_of_sid
from callplane.store.models import Account, Application, CallRecord

DEFAULT_TIMEOUT = 60  # Twilio's ring timeout
MAX_TIMEOUT = 600
MAX_TIME_LIMIT = 86400
CREATE_FIELDS = frozenset(
    {
        "To",
        "From",
        "Url",
        "Twiml",
        "ApplicationSid",
        "Method",
        "FallbackUrl",
        "FallbackMethod",
        "StatusCallback",
        "StatusCallbackEvent",
        "StatusCallbackMethod",
        "Timeout",
        "TimeLimit",
        "SendDigits",
        "CallerId",
    }
)
# Twilio features Callplane does not have: refused when asked for.
UNSUPPORTED = {
    "Record": "recording placed calls",
    "RecordingChannels": "recording placed calls",
    "RecordingStatusCallback": "recording placed calls",
    "RecordingStatusCallbackMethod": "recording placed calls",
    "RecordingStatusCallbackEvent": "recording placed calls",
    "RecordingTrack": "recording placed calls",
    "Trim": "recording placed calls",
    "MachineDetection": "answering machine detection",
    "MachineDetectionTimeout": "answering machine detection",
    "AsyncAmd": "answering machine detection",
    "AsyncAmdStatusCallback": "answering machine detection",
    "AsyncAmdStatusCallbackMethod": "answering machine detection",
    "SipAuthUsername": "SIP digest credentials for the callee",
    "SipAuthPassword": "SIP digest credentials for the callee",
    "CallReason": "branded calls",
    "CallToken": "call tokens",
}
UPDATE_FIELDS = frozenset({"Status", "Url", "Method", "Twiml"})
LIST_FILTERS = frozenset(
    {
        "To",
        "From",
        "Status",
        *(f"{name}{op}" for name in ("StartTime", "EndTime") for op in ("", "<", ">")),
        *tw.PAGE_PARAMS,
    }
)
# Twilio's status filter -> the stored CallStatuses it stands for (``twilio_status``
# shows Plivo's ``cancel`` and ``timeout`` as ``canceled`` and ``no-answer``).
STORED_STATUSES = {"canceled": ("cancel",), "no-answer": ("no-answer", "timeout")}
TWILIO_STATUSES = frozenset(
    {"queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"}
)


# -- shapes -----------------------------------------------------------------------------


def call_sid_of(value: str) -> str:
    """The CallUUID of a ``CA`` SID (or of a UUID given as is)."""
    return uuid_of_sid(value, "CA") or value


def call_shape(account: Account, record: CallRecord, status: str | None = None) -> dict[str, Any]:
    sid = twilio_call_sid(record.call_uuid)
    uri = f"{tw.account_uri(account)}/Calls/{sid}"
    direction = "inbound" if record.call_direction == "inbound" else "outbound-api"
    price = None
    if record.state == "ended":
        price = f"-{record.total_amount}" if float(record.total_amount) else record.total_amount
    return {
        "sid": sid,
        "account_sid": tw.account_sid(account),
        "parent_call_sid": (
            twilio_call_sid(record.parent_call_uuid) if record.parent_call_uuid else None
        ),
        "to": twilio_number(record.to_number),
        "to_formatted": twilio_number(record.to_number),
        "from": twilio_number(record.from_number),
        "from_formatted": twilio_number(record.from_number),
        "caller_name": record.caller_name or None,
        "status": status or twilio_status(record.call_status),
        "direction": direction,
        "answered_by": None,
        "forwarded_from": None,
        "group_sid": None,
        "phone_number_sid": None,
        "trunk_sid": None,
        "queue_time": "0",
        "annotation": None,
        "date_created": tw.rfc2822(record.initiation_time),
        "date_updated": tw.rfc2822(record.end_time or record.answer_time or record.initiation_time),
        "start_time": tw.rfc2822(record.answer_time or record.initiation_time),
        "end_time": tw.rfc2822(record.end_time),
        "duration": str(record.call_duration) if record.state == "ended" else None,
        "price": price,
        "price_unit": "USD",
        "api_version": tw.API_VERSION,
        "uri": f"{uri}.json",
        "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
    }


# -- create -----------------------------------------------------------------------------


@tw.handler
async def create(request: Request) -> Response:
    account = await tw.account_of(request)
    form = await tw.read_form(request)
    for name, what in UNSUPPORTED.items():
        if any(v.lower() not in ("", "false", "0") for v in form.get(name, [])):
            raise tw.TwilioError(400, 21218, f"{name}: {what} is not supported by Callplane")
    tw.check_known(form, CREATE_FIELDS | UNSUPPORTED.keys())
    to, call = await _call_request(request, account, form)
    uuid = placer_of(request).place(account, call, to)
    record = live_of(request).get(account.auth_id, uuid) or _placed(account, call, to, uuid)
    return JsonResponse(call_shape(account, record, "queued"), status_code=201)


async def _call_request(
    request: Request, account: Account, form: tw.Form
) -> tuple[str, CallRequest]:
    to = tw.single(form, "To")
    if not to:
        raise tw.TwilioError(400, 21201, "No 'To' number is specified")
    if to.lower().startswith("client:"):
        raise tw.TwilioError(
            400, 21211, "To: client: identities are not supported; dial a sip: URI"
        )
    check_destination(to)
    sender = tw.single(form, "From") or tw.single(form, "CallerId")
    if not sender:
        raise tw.TwilioError(400, 21603, "A 'From' phone number is required")
    if not PHONE_NUMBER.fullmatch(sender):
        raise ValidationError("From", "must be a phone number: digits, optionally after +")
    app = await _application(request, account, tw.single(form, "ApplicationSid"))
    if app is None:
        url = tw.http_url("Url", tw.single(form, "Url"))
        method = http_method("Method", tw.single(form, "Method"))
        fallback = tw.http_url("FallbackUrl", tw.single(form, "FallbackUrl"))
        fallback_method = http_method("FallbackMethod", tw.single(form, "FallbackMethod"))
        callbacks = _callbacks(form)
    else:  # as on Twilio, the application's URLs replace the request's
        url, method = app.answer_url, app.answer_method
        fallback, fallback_method = app.fallback_answer_url, app.fallback_method
        callbacks = replace(_callbacks(form), url=app.hangup_url, method=app.hangup_method)
    document = _twiml("Twiml", tw.single(form, "Twiml"))
    if not (url or document):
        raise tw.TwilioError(400, 21205, "Url, Twiml or ApplicationSid is required")
    call = CallRequest(
        from_number=sender,
        answer_url="" if document else url,
        answer_method=method,
        fallback_url="" if document else fallback,
        fallback_method=fallback_method,
        time_limit=tw.seconds(
            "TimeLimit", tw.single(form, "TimeLimit"), DEFAULT_TIME_LIMIT, MAX_TIME_LIMIT
        ),
        ring_timeout=tw.seconds(
            "Timeout", tw.single(form, "Timeout"), DEFAULT_TIMEOUT, MAX_TIMEOUT
        ),
        send_digits=_digits(tw.single(form, "SendDigits")),
        document=document,
        twilio=callbacks,
    )
    return to, call


async def _application(request: Request, account: Account, sid: str) -> Application | None:
    """The application of ``ApplicationSid``, if given."""
    if not sid:
        return None
    app = await store_of(request).get_application(account.auth_id, app_id_of_sid(sid))
    if app is None:
        raise tw.TwilioError(400, 21218, f"ApplicationSid: no application {sid}")
    return app


def _twiml(name: str, value: str) -> Document | None:
    if not value:
        return None
    try:
        return parse_document(value, "application/xml", Dialect.TWIML)
    except MarkupError as exc:
        raise tw.TwilioError(400, 21221, f"{name}: invalid TwiML: {exc}") from None


def _callbacks(form: tw.Form) -> TwilioCallbacks:
    events = [
        e.strip().lower() for value in form.get("StatusCallbackEvent", []) for e in value.split(" ")
    ]
    events = [e for e in events if e]
    for event in events:
        if event not in EVENTS:
            raise ValidationError(
                "StatusCallbackEvent", f"{event!r}: must be one of {', '.join(EVENTS)}"
            )
    return TwilioCallbacks(
        url=tw.http_url("StatusCallback", tw.single(form, "StatusCallback")),
        method=http_method("StatusCallbackMethod", tw.single(form, "StatusCallbackMethod")),
        events=frozenset(events) if events else frozenset({"completed"}),
    )


def _digits(value: str) -> str:
    if len(value) > 64 or not set(value) <= set("0123456789*#ABCDw"):
        raise ValidationError("SendDigits", "at most 64 of 0-9 * # A-D, w to pause")
    return value.replace("w", "")


def _placed(account: Account, call: CallRequest, to: str, uuid: str) -> CallRecord:
    """The record of a call that already ended (no route) before it could be read back."""
    return CallRecord(
        uuid, account.auth_id, call.from_number.lstrip("+"), to.lstrip("+"), "outbound"
    )


# -- read -------------------------------------------------------------------------------


@tw.handler
async def list_(request: Request) -> Response:
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, LIST_FILTERS)
    args = tw.page_args(query)
    filters: dict[str, Any] = {}
    for name, value in query.items():
        if name in ("To", "From"):
            filters[f"{name.lower()}_number"] = value.lstrip("+")
        elif name == "Status":
            if value not in TWILIO_STATUSES:
                raise ValidationError(
                    "Status", f"must be one of {', '.join(sorted(TWILIO_STATUSES))}"
                )
            filters["call_status__in"] = STORED_STATUSES.get(value, (value,))
        elif name.startswith(("StartTime", "EndTime")):
            filters.update(tw.time_bounds(name, value))
    page = await store_of(request).list_calls(
        account.auth_id, limit=args.size, offset=args.offset, filters=filters
    )
    calls = [call_shape(account, record) for record in page.items]
    return tw.list_reply(request, "calls", calls, args, page.total)


async def _record(request: Request, account: Account, call_uuid: str) -> CallRecord:
    live: LiveCalls | None = request.app.state.live
    record = live.get(account.auth_id, call_uuid) if live is not None else None
    if record is None:
        record = await store_of(request).get_call(
            account.auth_id, call_uuid, include_subaccounts=account.parent_auth_id is None
        )
    if record is None:
        raise NotFound(f"call {call_uuid}")
    return record


@tw.handler
async def fetch(request: Request) -> Response:
    account = await tw.account_of(request)
    record = await _record(request, account, call_sid_of(request.path_params["call_sid"]))
    return JsonResponse(call_shape(account, record))


# -- update -----------------------------------------------------------------------------


@tw.handler
async def update(request: Request) -> Response:
    """``Status=completed|canceled`` ends the call; ``Url``/``Twiml`` replace its document."""
    account = await tw.account_of(request)
    form = await tw.read_form(request)
    tw.check_known(form, UPDATE_FIELDS)
    call_uuid = call_sid_of(request.path_params["call_sid"])
    record = await _record(request, account, call_uuid)
    live = live_of(request)
    status = tw.single(form, "Status")
    if status:
        return await _end(account, record, status, live)
    url = tw.http_url("Url", tw.single(form, "Url"))
    document = _twiml("Twiml", tw.single(form, "Twiml"))
    if not (url or document):
        raise tw.TwilioError(400, 21218, "give Status, Url or Twiml")
    if record.state != "live":
        raise tw.TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
    if document is not None:
        done = await live.transfer_inline(account.auth_id, call_uuid, document)
    else:
        done = await live.transfer(
            account.auth_id, call_uuid, url, http_method("Method", tw.single(form, "Method"))
        )
    if not done:
        raise tw.TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
    return JsonResponse(call_shape(account, record))


async def _end(account: Account, record: CallRecord, status: str, live: LiveCalls) -> Response:
    if status not in ("completed", "canceled"):
        raise ValidationError("Status", "must be completed or canceled")
    if record.state != "live":
        return JsonResponse(call_shape(account, record))
    if status == "canceled" and record.answer_time is not None:
        return JsonResponse(call_shape(account, record))  # Twilio: no effect once answered
    await live.hangup(account.auth_id, record.call_uuid)
    ended = replace(record, state="ended")
    return JsonResponse(
        call_shape(account, ended, "completed" if record.answer_time else "canceled")
    )
