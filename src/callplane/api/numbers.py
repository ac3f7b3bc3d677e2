"""``/v1/Account/{auth_id}/Number/``: the account's own (carrier) numbers.

A number runs an application (``app_id``) or a flow (``flow_id``). Plivo code links
a PHLO to a number through ``app_id``, so a flow id given as ``app_id`` assigns
that flow: see ``_flow_given_as_app``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    filters_of,
    integer,
    list_reply,
    main_only,
    page_args,
    parse_fields,
    read_body,
    reply,
    required,
    store_of,
    text,
)
from callplane.errors import NotFound, ValidationError
from callplane.store.models import Account, Number

UPDATE_FIELDS = {
    "app_id": text,
    "flow_id": text,
    "alias": text,
    "max_concurrent_calls": integer,
    "subaccount": text,
}
UPDATE_IGNORED = frozenset({"number", "verification_info", "cnam_lookup"})
LIST_FILTERS = frozenset({"number_startswith", "alias", "type", "number_type", "subaccount"})


def _number_list(name: str, value: Any) -> list[str]:
    """``numbers`` as a comma-separated string or (JSON) a list of strings."""
    items = value if isinstance(value, list) else text(name, value).split(",")
    return [text(name, item) for item in items if text(name, item)]


CREATE_FIELDS = {
    "numbers": _number_list,
    "carrier": text,
    "region": text,
    "number_type": text,
    "app_id": text,
}
CREATE_IGNORED = frozenset({"subaccount"})


async def _visible(request: Request) -> tuple[Account, Number]:
    """The caller and the number of the path, if the caller or a sub-account owns it."""
    account = await authenticate(request)
    number = request.path_params["number"]
    num = await store_of(request).get_number(account.auth_id, number, include_subaccounts=True)
    if num is None:
        raise NotFound(f"number {number}")
    return account, num


async def create(request: Request) -> Response:
    """Add numbers from the account's own carrier (Plivo replies 202 "changed")."""
    account = await authenticate(request)
    values = parse_fields(await read_body(request), CREATE_FIELDS, CREATE_IGNORED)
    store = store_of(request)
    flow = await _flow_given_as_app(request, account.auth_id, values)
    added = await store.add_numbers(
        account.auth_id,
        required(values, "numbers"),
        carrier=values.get("carrier", ""),
        region=values.get("region", ""),
        number_type=values.get("number_type", "local"),
        app_id=values.get("app_id") or None,
    )
    for num in added if flow else ():
        await store.update_number(account.auth_id, num.number, flow)
    await changed(request)
    return reply(202, message="changed")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    found = filters_of(request.query_params, LIST_FILTERS)
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, found.get("subaccount"))
    page = await store.list_numbers(
        owner,
        limit=limit,
        offset=offset,
        number_startswith=found.get("number_startswith"),
        alias=found.get("alias"),
        number_type=found.get("number_type") or found.get("type"),
    )
    objects = [_shape(num) for num in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    _, num = await _visible(request)
    return reply(**_shape(num))


def _shape(num: Number) -> dict[str, Any]:
    """Plivo's number fields, and the flow that answers it (``flow_id``, or null)."""
    return {**shapes.number(num), "flow_id": num.flow_id}


async def modify(request: Request) -> Response:
    """Plivo's ``subaccount`` (main account only) gives the number to that sub-account;
    ``""`` or the main account's own id takes it back."""
    account, num = await _visible(request)
    changes = parse_fields(await read_body(request), UPDATE_FIELDS, UPDATE_IGNORED)
    if not changes:
        raise ValidationError("app_id", "give app_id, flow_id, alias or max_concurrent_calls")
    if "subaccount" in changes:
        main_only(account, "move numbers between accounts")
        store = store_of(request)
        changes["auth_id"] = await store.resolve_owner(account.auth_id, changes.pop("subaccount"))
    owner = changes.get("auth_id") or num.auth_id
    changes.update(await _flow_given_as_app(request, owner, changes))
    await store_of(request).update_number(num.auth_id, num.number, changes)
    await changed(request)
    return reply(202, message="changed")


async def _flow_given_as_app(
    request: Request, auth_id: str, values: dict[str, Any]
) -> dict[str, str]:
    """``{"flow_id": ...}`` when ``values["app_id"]`` names a flow of ``auth_id`` and no
    application (``app_id`` is then dropped from ``values``); else ``{}``.

    Plivo's SDK code attaches a PHLO with ``numbers.update(number, app_id=phlo_id)``;
    application ids (digits) and flow ids (UUIDs) never collide."""
    app_id = values.get("app_id")
    if not app_id or "flow_id" in values:
        return {}
    store = store_of(request)
    if await store.get_application(auth_id, app_id) is not None:
        return {}
    flow = await store.get_flow(auth_id, app_id)
    if flow is None:
        return {}  # the store answers "no application"
    if flow.published_version is None:
        raise ValidationError("app_id", f"flow {app_id} has no published version")
    del values["app_id"]
    return {"flow_id": app_id}


async def delete(request: Request) -> Response:
    _, num = await _visible(request)
    await store_of(request).delete_number(num.auth_id, num.number)
    await changed(request)
    return reply(204)
