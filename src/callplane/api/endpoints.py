"""``/v1/Account/{auth_id}/Endpoint/``: Plivo's SIP endpoints (username/password for REGISTER).

The password is write-only: the store keeps its digest HA1 and no reply carries it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    list_reply,
    page_args,
    parse_fields,
    read_body,
    reply,
    required,
    store_of,
    text,
)
from callplane.errors import NotFound
from callplane.store.models import Endpoint

CREATE_FIELDS = {
    "username": text,
    "password": text,
    "alias": text,
    "app_id": text,
    "subaccount": text,
}
UPDATE_FIELDS = {"password": text, "alias": text, "app_id": text}
# Plivo's async-reply parameters (Callplane always answers synchronously).
IGNORED = frozenset({"callback_url", "callback_method"})


def _sip_host(request: Request) -> str:
    return request.url.hostname or "localhost"


async def _visible(request: Request) -> Endpoint:
    """The endpoint of the path if the caller or one of its sub-accounts owns it."""
    account = await authenticate(request)
    endpoint_id = request.path_params["endpoint_id"]
    endpoint = await store_of(request).get_endpoint(
        account.auth_id, endpoint_id, include_subaccounts=True
    )
    if endpoint is None:
        raise NotFound(f"endpoint {endpoint_id}")
    return endpoint


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), CREATE_FIELDS, IGNORED)
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, values.get("subaccount"))
    endpoint = await store.create_endpoint(
        owner,
        required(values, "username"),
        required(values, "password"),
        alias=values.get("alias", ""),
        app_id=values.get("app_id") or None,
    )
    await changed(request)
    return reply(
        201,
        endpoint_id=endpoint.endpoint_id,
        username=endpoint.username,
        alias=endpoint.alias,
        message="created",
    )


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, request.query_params.get("subaccount"))
    page = await store.list_endpoints(owner, limit=limit, offset=offset)
    objects = [shapes.endpoint(ep, _sip_host(request)) for ep in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    endpoint = await _visible(request)
    return reply(**shapes.endpoint(endpoint, _sip_host(request)))


async def modify(request: Request) -> Response:
    endpoint = await _visible(request)
    values = parse_fields(await read_body(request), UPDATE_FIELDS, IGNORED)
    updated = await store_of(request).update_endpoint(
        endpoint.auth_id, endpoint.endpoint_id, **values
    )
    await changed(request)
    return reply(202, alias=updated.alias, message="changed")


async def delete(request: Request) -> Response:
    endpoint = await _visible(request)
    await store_of(request).delete_endpoint(endpoint.auth_id, endpoint.endpoint_id)
    await changed(request)
    return reply(204)
