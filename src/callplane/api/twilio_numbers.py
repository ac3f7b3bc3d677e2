"""``/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers``: Twilio's numbers over
Callplane's numbers (your carrier's numbers: nothing is bought).

A number's SID is ``PN`` + its digits, zero-padded to 32 (``+E.164`` is accepted
too). On Twilio a number carries its own ``VoiceUrl``...; on Callplane a number
points at an application. So a number given voice URLs gets an application of its
own, named ``IncomingPhoneNumber +<number>`` (TwiML), which follows the number's
updates and goes with it; ``VoiceApplicationSid`` points it at an existing one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse, changed, http_method, store_of
from callplane.api.twilio_apps import FIELDS as APP_FIELDS
from callplane.api.twilio_apps import app_id_of_sid, app_sid
from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account, Application, Number

VOICE_FIELDS = {name: field for name, field in APP_FIELDS.items() if name != "FriendlyName"}
# Twilio features Callplane does not have: accepted only when false or empty.
UNSUPPORTED = frozenset(
    {
        "AreaCode",
        "VoiceCallerIdLookup",
        "SmsApplicationSid",
        "SmsFallbackUrl",
        "TrunkSid",
        "EmergencyAddressSid",
        "AddressSid",
        "IdentitySid",
        "BundleSid",
    }
)
KNOWN = frozenset(
    {
        "PhoneNumber",
        "FriendlyName",
        "VoiceApplicationSid",
        "ApiVersion",
        "SmsFallbackMethod",
        "VoiceReceiveMode",
        *VOICE_FIELDS,
        *UNSUPPORTED,
    }
)
LIST_FILTERS = frozenset({"PhoneNumber", "FriendlyName", *tw.PAGE_PARAMS})


def number_sid(number: str) -> str:
    return "PN" + number.rjust(32, "0")


def number_of_sid(sid: str) -> str:
    if sid.startswith("PN") and len(sid) == 34:
        return sid[2:].lstrip("0")
    return sid.lstrip("+")


def own_app_name(number: str) -> str:
    return f"IncomingPhoneNumber +{number}"


def number_shape(account: Account, num: Number, app: Application | None) -> dict[str, Any]:
    sid = number_sid(num.number)
    own = app if app is not None and app.app_name == own_app_name(num.number) else None
    added = tw.rfc2822(num.added_on)
    return {
        "sid": sid,
        "account_sid": tw.account_sid(account),
        "friendly_name": num.alias or f"+{num.number}",
        "phone_number": f"+{num.number}",
        "voice_application_sid": app_sid(app.app_id) if app is not None and own is None else None,
        "voice_url": own.answer_url or None if own else None,
        "voice_method": own.answer_method if own else "POST",
        "voice_fallback_url": own.fallback_answer_url or None if own else None,
        "voice_fallback_method": own.fallback_method if own else "POST",
        "voice_caller_id_lookup": False,
        "voice_receive_mode": "voice",
        "status_callback": own.hangup_url or None if own else None,
        "status_callback_method": own.hangup_method if own else "POST",
        "sms_url": own.message_url or None if own else None,
        "sms_method": own.message_method if own else "POST",
        "sms_application_sid": None,
        "sms_fallback_url": None,
        "sms_fallback_method": "POST",
        "capabilities": {"voice": True, "sms": False, "mms": False, "fax": False},
        "beta": False,
        "origin": "hosted",
        "status": "in-use",
        "trunk_sid": None,
        "emergency_status": "Inactive",
        "address_requirements": "none",
        "date_created": added,
        "date_updated": added,
        "api_version": tw.API_VERSION,
        "uri": f"{tw.account_uri(account)}/IncomingPhoneNumbers/{sid}.json",
    }


def _voice_changes(form: tw.Form) -> dict[str, Any]:
    tw.check_known(form, KNOWN)
    for name in UNSUPPORTED:
        if any(v.lower() not in ("", "false", "0") for v in form.get(name, [])):
            raise tw.TwilioError(400, 21218, f"{name} is not supported by Callplane")
    changes: dict[str, Any] = {}
    for name, field in VOICE_FIELDS.items():
        if name in form:
            value = tw.single(form, name)
            is_method = name.endswith("Method")
            changes[field] = http_method(name, value) if is_method else tw.http_url(name, value)
    if changes and tw.single(form, "VoiceApplicationSid"):
        raise ValidationError("VoiceApplicationSid", "give it or voice URLs, not both")
    return changes


async def _app_of(store: Store, num: Number) -> Application | None:
    return await store.get_application(num.auth_id, num.app_id) if num.app_id else None


async def _own_app(store: Store, num: Number, changes: dict[str, Any]) -> str:
    """The number's own application, made or changed; its app id."""
    current = await _app_of(store, num)
    if current is not None and current.app_name == own_app_name(num.number):
        await store.update_application(num.auth_id, current.app_id, changes)
        return current.app_id
    blank = Application(app_id="", auth_id=num.auth_id, app_name="", answer_url="")
    app = replace(blank, app_name=own_app_name(num.number), dialect="twiml", **changes)
    return (await store.create_application(app)).app_id


async def _drop_own_app(store: Store, num: Number, keep: str | None) -> None:
    app = await _app_of(store, num)
    if app is not None and app.app_name == own_app_name(num.number) and app.app_id != keep:
        await store.delete_application(num.auth_id, app.app_id)


async def _configure(store: Store, num: Number, form: tw.Form) -> Number:
    """Apply FriendlyName, VoiceApplicationSid and voice URLs to ``num``."""
    voice = _voice_changes(form)
    changes: dict[str, Any] = {}
    if "FriendlyName" in form:
        changes["alias"] = tw.single(form, "FriendlyName")
    if "VoiceApplicationSid" in form:
        sid = tw.single(form, "VoiceApplicationSid")
        changes["app_id"] = app_id_of_sid(sid) if sid else None
    elif voice:
        changes["app_id"] = await _own_app(store, num, voice)
    if not changes:
        return num
    updated = await store.update_number(num.auth_id, num.number, changes)
    await _drop_own_app(store, num, updated.app_id)
    return updated


async def _owned(request: Request) -> tuple[Account, Number]:
    account = await tw.account_of(request)
    sid = request.path_params["number_sid"]
    num = await store_of(request).get_number(account.auth_id, number_of_sid(sid))
    if num is None:
        raise NotFound(f"number {sid}")
    return account, num


async def _reply(request: Request, account: Account, num: Number, status: int = 200) -> Response:
    app = await _app_of(store_of(request), num)
    return JsonResponse(number_shape(account, num, app), status_code=status)


@tw.handler
async def create(request: Request) -> Response:
    """Add a number your carrier routes to Callplane (``PhoneNumber`` is required)."""
    account = await tw.account_of(request)
    form = await tw.read_form(request)
    _voice_changes(form)
    number = tw.single(form, "PhoneNumber")
    if not number:
        raise tw.TwilioError(
            400, 21452, "PhoneNumber is required: Callplane adds your carrier's numbers"
        )
    store = store_of(request)
    (num,) = await store.add_numbers(account.auth_id, [number])
    num = await _configure(store, num, form)
    await changed(request)
    return await _reply(request, account, num, 201)


@tw.handler
async def list_(request: Request) -> Response:
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, LIST_FILTERS)
    args = tw.page_args(query)
    store = store_of(request)
    page = await store.list_numbers(
        account.auth_id,
        limit=args.size,
        offset=args.offset,
        number_startswith=query.get("PhoneNumber"),
        alias=query.get("FriendlyName"),
    )
    numbers = [number_shape(account, n, await _app_of(store, n)) for n in page.items]
    return tw.list_reply(request, "incoming_phone_numbers", numbers, args, page.total)


@tw.handler
async def fetch(request: Request) -> Response:
    account, num = await _owned(request)
    return await _reply(request, account, num)


@tw.handler
async def update(request: Request) -> Response:
    account, num = await _owned(request)
    form = await tw.read_form(request)
    if "PhoneNumber" in form:
        raise ValidationError("PhoneNumber", "a number cannot be renumbered")
    num = await _configure(store_of(request), num, form)
    await changed(request)
    return await _reply(request, account, num)


@tw.handler
async def delete(request: Request) -> Response:
    account, num = await _owned(request)
    store = store_of(request)
    await store.delete_number(account.auth_id, num.number)
    await _drop_own_app(store, num, None)
    await changed(request)
    return Response(status_code=204)
