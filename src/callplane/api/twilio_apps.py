"""``/2010-04-01/Accounts/{AccountSid}/Applications``: Twilio's Application resource
over Callplane's applications.

An application's SID is ``AP`` + its numeric app id, zero-padded to 32 digits (the
bare app id is accepted too). ``VoiceUrl``/``VoiceFallbackUrl`` are the answer and
fallback URLs, ``StatusCallback`` the hangup URL (Twilio sends it ``completed``),
``SmsUrl`` the message URL; applications made here read their documents as TwiML.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse, changed, http_method, store_of
from callplane.errors import NotFound, ValidationError
from callplane.store.models import Account, Application

FIELDS = tw.APP_FIELDS
# Accepted, and only false/empty: Callplane has no such feature.
UNSUPPORTED = frozenset(
    {
        "SmsFallbackUrl",
        "SmsStatusCallback",
        "MessageStatusCallback",
        "VoiceCallerIdLookup",
        "PublicApplicationConnectEnabled",
    }
)
KNOWN = frozenset({*FIELDS, *UNSUPPORTED, "ApiVersion", "SmsFallbackMethod"})
LIST_FILTERS = frozenset({"FriendlyName", *tw.PAGE_PARAMS})


def app_sid(app_id: str) -> str:
    return "AP" + app_id.rjust(32, "0")


def app_id_of_sid(sid: str) -> str:
    """The app id of an ``AP`` SID (or of an app id given as is)."""
    if sid.startswith("AP") and len(sid) == 34:
        return sid[2:].lstrip("0")
    return sid


def app_shape(account: Account, app: Application) -> dict[str, Any]:
    sid = app_sid(app.app_id)
    created = tw.rfc2822(app.created)
    return {
        "sid": sid,
        "account_sid": tw.account_sid(account),
        "friendly_name": app.app_name,
        "api_version": tw.API_VERSION,
        "voice_url": app.answer_url or None,
        "voice_method": app.answer_method,
        "voice_fallback_url": app.fallback_answer_url or None,
        "voice_fallback_method": app.fallback_method,
        "voice_caller_id_lookup": False,
        "status_callback": app.hangup_url or None,
        "status_callback_method": app.hangup_method,
        "sms_url": app.message_url or None,
        "sms_method": app.message_method,
        "sms_fallback_url": None,
        "sms_fallback_method": "POST",
        "sms_status_callback": None,
        "message_status_callback": None,
        "public_application_connect_enabled": False,
        "date_created": created,
        "date_updated": created,
        "uri": f"{tw.account_uri(account)}/Applications/{sid}.json",
    }


def _changes(form: tw.Form) -> dict[str, Any]:
    tw.check_known(form, KNOWN)
    for name in UNSUPPORTED:
        if any(v.lower() not in ("", "false", "0") for v in form.get(name, [])):
            raise tw.TwilioError(400, 21218, f"{name} is not supported by Callplane")
    changes: dict[str, Any] = {}
    for name, field in FIELDS.items():
        if name not in form:
            continue
        value = tw.single(form, name)
        if name.endswith("Method"):
            value = http_method(name, value)
        elif name != "FriendlyName":
            value = tw.http_url(name, value)
        changes[field] = value
    return changes


async def _owned(request: Request) -> tuple[Account, Application]:
    account = await tw.account_of(request)
    sid = request.path_params["app_sid"]
    app = await store_of(request).get_application(account.auth_id, app_id_of_sid(sid))
    if app is None:
        raise NotFound(f"application {sid}")
    return account, app


@tw.handler
async def create(request: Request) -> Response:
    account = await tw.account_of(request)
    changes = _changes(await tw.read_form(request))
    if not changes.get("app_name"):
        raise ValidationError("FriendlyName", "required")
    blank = Application(app_id="", auth_id=account.auth_id, app_name="", answer_url="")
    app = replace(blank, dialect="twiml", **changes)
    app = await store_of(request).create_application(app)
    await changed(request)
    return JsonResponse(app_shape(account, app), status_code=201)


@tw.handler
async def list_(request: Request) -> Response:
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, LIST_FILTERS)
    args = tw.page_args(query)
    page = await store_of(request).list_applications(
        account.auth_id, limit=args.size, offset=args.offset, app_name=query.get("FriendlyName")
    )
    apps = [app_shape(account, app) for app in page.items]
    return tw.list_reply(request, "applications", apps, args, page.total)


@tw.handler
async def fetch(request: Request) -> Response:
    account, app = await _owned(request)
    return JsonResponse(app_shape(account, app))


@tw.handler
async def update(request: Request) -> Response:
    account, app = await _owned(request)
    changes = _changes(await tw.read_form(request))
    updated = await store_of(request).update_application(account.auth_id, app.app_id, changes)
    await changed(request)
    return JsonResponse(app_shape(account, updated))


@tw.handler
async def delete(request: Request) -> Response:
    account, app = await _owned(request)
    await store_of(request).delete_application(account.auth_id, app.app_id)
    await changed(request)
    return Response(status_code=204)
