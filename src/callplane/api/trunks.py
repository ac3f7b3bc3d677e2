"""``/v1/Account/{auth_id}/Trunk/``: SIP trunks (outbound gateways, inbound peers).

Passwords are write-only: replies say whether one is set, never what it is.
List fields (``prefixes``, ``inbound_acl``) take a JSON array or a comma-separated string.
"""

from __future__ import annotations

from typing import Any

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
    required,
    store_of,
    text,
)
from callplane.errors import NotFound, ValidationError
from callplane.store.models import Trunk


def words(name: str, value: Any) -> tuple[str, ...]:
    """A JSON array of strings, or one comma-separated string."""
    if isinstance(value, list):
        items = [text(name, item) for item in value]
    elif isinstance(value, str):
        items = text(name, value).split(",")
    else:
        raise ValidationError(name, "must be a list or a comma-separated string")
    return tuple(item.strip() for item in items if item.strip())


FIELDS = {
    "name": text,
    "host": text,
    "port": integer,
    "transport": text,
    "username": text,
    "password": text,
    "prefixes": words,
    "strip_digits": integer,
    "add_prefix": text,
    "caller_id": text,
    "inbound_acl": words,
    "inbound_username": text,
    "inbound_password": text,
    "priority": integer,
    "enabled": flag,
}


def shape(trunk: Trunk) -> dict[str, Any]:
    base = shapes.account_uri(trunk.auth_id)
    return {
        "trunk_id": trunk.trunk_id,
        "name": trunk.name,
        "host": trunk.host,
        "port": trunk.port,
        "transport": trunk.transport,
        "username": trunk.username,
        "password_set": bool(trunk.password),
        "prefixes": list(trunk.prefixes),
        "strip_digits": trunk.strip_digits,
        "add_prefix": trunk.add_prefix,
        "caller_id": trunk.caller_id,
        "inbound_acl": list(trunk.inbound_acl),
        "inbound_username": trunk.inbound_username,
        "inbound_password_set": bool(trunk.inbound_ha1),
        "priority": trunk.priority,
        "enabled": trunk.enabled,
        "sub_account": shapes.sub_account(trunk.auth_id),
        "created": shapes.plivo_time(trunk.created),
        "resource_uri": f"{base}Trunk/{trunk.trunk_id}/",
    }


async def _owned(request: Request) -> Trunk:
    account = await authenticate(request)
    trunk_id = request.path_params["trunk_id"]
    trunk = await store_of(request).get_trunk(account.auth_id, trunk_id)
    if trunk is None:
        raise NotFound(f"trunk {trunk_id}")
    return trunk


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS)
    required(values, "name")
    required(values, "host")
    trunk = await store_of(request).create_trunk(account.auth_id, values)
    await changed(request)
    return reply(201, message="created", **shape(trunk))


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_trunks(account.auth_id, limit=limit, offset=offset)
    return list_reply(request, page, limit, offset, [shape(trunk) for trunk in page.items])


async def get(request: Request) -> Response:
    return reply(**shape(await _owned(request)))


async def modify(request: Request) -> Response:
    trunk = await _owned(request)
    values = parse_fields(await read_body(request), FIELDS)
    updated = await store_of(request).update_trunk(trunk.auth_id, trunk.trunk_id, values)
    await changed(request)
    return reply(202, message="changed", **shape(updated))


async def delete(request: Request) -> Response:
    trunk = await _owned(request)
    await store_of(request).delete_trunk(trunk.auth_id, trunk.trunk_id)
    await changed(request)
    return reply(204)
