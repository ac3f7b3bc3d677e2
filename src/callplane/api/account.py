"""``/v1/Account/{auth_id}/``: the authenticated account itself, and its auth token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    integer,
    main_only,
    number,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)

FIELDS = {
    "name": text,
    "city": text,
    "address": text,
    "inbound_cps": number,
    "rate_per_minute": text,
    "billing_interval": integer,
}
PRICING = frozenset({"rate_per_minute", "billing_interval"})
# Plivo's profile fields that Callplane does not keep.
IGNORED = frozenset({"state", "timezone"})


async def get(request: Request) -> Response:
    account = await authenticate(request)
    return reply(**shapes.account(account))


async def modify(request: Request) -> Response:
    """Plivo's name, city, address; Callplane's inbound_cps and pricing (main account)."""
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS, IGNORED)
    if PRICING & values.keys():
        main_only(account, "change pricing")
    await store_of(request).update_account(account.auth_id, **values)
    await changed(request)
    return reply(202, message="changed")


async def rotate_token(request: Request) -> Response:
    """A new auth token, returned once; the old one stops working (API keys do not)."""
    account = await authenticate(request)
    rotated = await store_of(request).rotate_auth_token(account.auth_id)
    await changed(request)
    return reply(200, auth_id=rotated.auth_id, auth_token=rotated.auth_token, message="changed")
