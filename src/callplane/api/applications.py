"""``/v1/Account/{auth_id}/Application/``: Plivo's application resource."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    flag,
    integer,
    list_reply,
    page_args,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)
from callplane.errors import NotFound
from callplane.store.models import Application

FIELDS = {
    "app_name": text,
    "answer_url": text,
    "answer_method": text,
    "fallback_answer_url": text,
    "fallback_method": text,
    "hangup_url": text,
    "hangup_method": text,
    "message_url": text,
    "message_method": text,
    "status_callback_url": text,
    "status_callback_method": text,
    "dialect": text,
    "max_concurrent_calls": integer,
    "default_number_app": flag,
    "default_endpoint_app": flag,
}
CREATE_FIELDS = {**FIELDS, "subaccount": text}
# Plivo parameters we accept and ignore (no messaging logs or public URIs).
IGNORED = frozenset(
    {
        "subaccount",
        "log_incoming_messages",
        "public_uri",
        "callback_url",
        "callback_method",
        "cascade",
        "new_endpoint_application",
    }
)


def _sip_host(request: Request) -> str:
    return request.url.hostname or "localhost"


async def _visible(request: Request) -> Application:
    """The application of the path if the caller or one of its sub-accounts owns it."""
    account = await authenticate(request)
    app_id = request.path_params["app_id"]
    app = await store_of(request).get_application(account.auth_id, app_id, include_subaccounts=True)
    if app is None:
        raise NotFound(f"application {app_id}")
    return app


async def create(request: Request) -> Response:
    """``subaccount`` (main account only) creates the application for that sub-account."""
    account = await authenticate(request)
    values = parse_fields(await read_body(request), CREATE_FIELDS, IGNORED - {"subaccount"})
    owner = await store_of(request).resolve_owner(account.auth_id, values.pop("subaccount", None))
    app = Application(
        app_id="",
        auth_id=owner,
        app_name=values.pop("app_name", ""),
        answer_url=values.pop("answer_url", ""),
        **values,
    )
    app = await store_of(request).create_application(app)
    await changed(request)
    return reply(201, app_id=app.app_id, message="created")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    app_name = request.query_params.get("app_name")
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, request.query_params.get("subaccount"))
    page = await store.list_applications(owner, limit=limit, offset=offset, app_name=app_name)
    objects = [shapes.application(app, _sip_host(request)) for app in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    app = await _visible(request)
    return reply(**shapes.application(app, _sip_host(request)))


async def modify(request: Request) -> Response:
    app = await _visible(request)
    changes = parse_fields(await read_body(request), FIELDS, IGNORED)
    await store_of(request).update_application(app.auth_id, app.app_id, changes)
    await changed(request)
    return reply(202, message="changed")


async def delete(request: Request) -> Response:
    app = await _visible(request)
    await store_of(request).delete_application(app.auth_id, app.app_id)
    await changed(request)
    return reply(204)
