"""``/v1/Account/{auth_id}/Subaccount/``: Plivo's sub-accounts, managed by a main account.

A sub-account id that is not one of the caller's sub-accounts is 404, exists or not.
``private_networks`` (``allow`` | ``deny``, default ``deny``) is Callplane's: whether
the sub-account's URLs may reach loopback and private networks (``webhooks/ssrf.py``).
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
    main_only,
    number,
    page_args,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)
from callplane.errors import NotFound, ValidationError
from callplane.store.models import Account


def private_networks(name: str, value: Any) -> bool:
    """``allow`` | ``deny``, as stored."""
    found = str(value).strip().lower()
    if found not in _ALLOW:
        raise ValidationError(name, "must be allow or deny")
    return _ALLOW[found]


_ALLOW = {"allow": True, "deny": False}
CREATE_FIELDS = {"name": text, "enabled": flag, "private_networks": private_networks}
UPDATE_FIELDS = {
    **CREATE_FIELDS,
    "inbound_cps": number,
    "rate_per_minute": text,
    "billing_interval": integer,
}
DELETE_FIELDS = {"cascade": flag}
# The plivo SDK repeats the path's sub-account id in update and delete bodies.
IGNORED = frozenset({"auth_id"})


async def _main(request: Request) -> Account:
    account = await authenticate(request)
    main_only(account, "manage sub-accounts")
    return account


async def create(request: Request) -> Response:
    account = await _main(request)
    values = parse_fields(await read_body(request), CREATE_FIELDS)
    sub = await store_of(request).create_subaccount(
        account.auth_id,
        values.get("name", ""),
        enabled=values.get("enabled", False),
        private_networks=values.get("private_networks", False),
    )
    await changed(request)
    return reply(201, auth_id=sub.auth_id, auth_token=sub.auth_token, message="created")


async def list_(request: Request) -> Response:
    account = await _main(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_subaccounts(account.auth_id, limit=limit, offset=offset)
    objects = [shapes.subaccount(sub) for sub in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    account = await _main(request)
    sub_id = request.path_params["sub_auth_id"]
    sub = await store_of(request).get_subaccount(account.auth_id, sub_id)
    if sub is None:
        raise NotFound(f"subaccount {sub_id}")
    return reply(**shapes.subaccount(sub))


async def modify(request: Request) -> Response:
    account = await _main(request)
    values = parse_fields(await read_body(request), UPDATE_FIELDS, IGNORED)
    await store_of(request).update_subaccount(
        account.auth_id, request.path_params["sub_auth_id"], **values
    )
    await changed(request)
    return reply(202, message="changed")


async def delete(request: Request) -> Response:
    """``cascade=true`` deletes its resources too; else they move to the main account."""
    account = await _main(request)
    body = dict(request.query_params) | await read_body(request)
    values = parse_fields(body, DELETE_FIELDS, IGNORED)
    await store_of(request).delete_subaccount(
        account.auth_id, request.path_params["sub_auth_id"], cascade=values.get("cascade", False)
    )
    await changed(request)
    return reply(204)
