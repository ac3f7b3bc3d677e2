"""``/v1/Account/{auth_id}/``: the authenticated account itself."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    number,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)
from callplane.errors import ValidationError

FIELDS = {"name": text, "inbound_cps": number}
# Plivo's profile fields; Callplane keeps no postal address.
IGNORED = frozenset({"city", "address", "state", "timezone"})


async def get(request: Request) -> Response:
    account = await authenticate(request)
    return reply(**shapes.account(account))


async def modify(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS, IGNORED)
    if "name" in values and not values["name"]:
        raise ValidationError("name", "must not be empty")
    await store_of(request).update_account(account.auth_id, **values)
    await changed(request)
    return reply(202, message="changed")
