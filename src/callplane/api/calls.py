"""``/v1/Account/{auth_id}/Call/``: call detail records, newest first, with Plivo's filters.

Times in filters are UTC, in Plivo's formats ``YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`` or
a bare date. An equality on a time matches the whole unit given: ``end_time=2025-03-01``
is that day, ``end_time=2025-03-01 12:30`` that minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    filters_of,
    integer,
    list_reply,
    page_args,
    reply,
    store_of,
)
from callplane.errors import NotFound, ValidationError

RANGE_SUFFIXES = ("gt", "gte", "lt", "lte")
_EQUAL = frozenset(
    {
        "call_direction",
        "from_number",
        "to_number",
        "parent_call_uuid",
        "hangup_cause_code",
        "hangup_source",
        "call_status",
        "status",
        "subaccount",
    }
)
_RANGED = ("bill_duration", "end_time")
LIST_FILTERS = _EQUAL | {
    *_RANGED,
    *(f"{name}__{op}" for name in _RANGED for op in RANGE_SUFFIXES),
}
_STATES = frozenset({"live", "ended"})
MIN_YEAR, MAX_YEAR = 1970, 9000
# Plivo's time formats, most precise first, with the length of the unit each names.
_TIME_FORMATS = (
    ("%Y-%m-%d %H:%M:%S.%f", timedelta(microseconds=1)),
    ("%Y-%m-%d %H:%M:%S", timedelta(seconds=1)),
    ("%Y-%m-%d %H:%M", timedelta(minutes=1)),
    ("%Y-%m-%d", timedelta(days=1)),
)


def parse_time(name: str, value: str) -> tuple[datetime, timedelta]:
    """A UTC time in one of Plivo's formats, and the span its precision covers."""
    for fmt, span in _TIME_FORMATS:
        try:
            stamp = datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if not MIN_YEAR <= stamp.year <= MAX_YEAR:
            raise ValidationError(name, f"year must be {MIN_YEAR} to {MAX_YEAR}")
        return stamp, span
    raise ValidationError(name, "must be YYYY-MM-DD or YYYY-MM-DD HH:MM[:ss[.uuuuuu]] (UTC)")


def _time_filters(name: str, value: str) -> dict[str, Any]:
    column, _, op = name.partition("__")
    stamp, span = parse_time(name, value)
    if op == "":
        return {f"{column}__gte": stamp, f"{column}__lt": stamp + span}
    if op in ("gt", "lte"):
        # after / up to the unit named: "__gt=2025-03-01" is from 2025-03-02 on.
        return {name: stamp + span - timedelta(microseconds=1)}
    return {name: stamp}


def store_filters(query: QueryParams) -> dict[str, Any]:
    """Query filters in the store's terms (``subaccount`` is left for the caller)."""
    found: dict[str, Any] = {}
    for name, value in filters_of(query, LIST_FILTERS).items():
        found.update(_filter(name, value))
    return found


def _filter(name: str, value: str) -> dict[str, Any]:
    if name == "subaccount":
        return {}
    if name == "status":
        if value not in _STATES:
            raise ValidationError("status", "must be live or ended")
        return {"state": value}
    if name in ("from_number", "to_number"):
        return {name: value.lstrip("+")}
    if name == "hangup_cause_code" or name.startswith("bill_duration"):
        return {name: integer(name, value)}
    if name.startswith("end_time"):
        return _time_filters(name, value)
    return {name: value}


async def list_(request: Request) -> Response:
    """The caller's records, or with ``subaccount`` one of its sub-accounts' records."""
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    filters = store_filters(request.query_params)
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, request.query_params.get("subaccount"))
    page = await store.list_calls(owner, limit=limit, offset=offset, filters=filters)
    objects = [shapes.call(record) for record in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    account = await authenticate(request)
    call_uuid = request.path_params["call_uuid"]
    record = await store_of(request).get_call(
        account.auth_id, call_uuid, include_subaccounts=account.parent_auth_id is None
    )
    if record is None:
        raise NotFound(f"call {call_uuid}")
    return reply(**shapes.call(record))
