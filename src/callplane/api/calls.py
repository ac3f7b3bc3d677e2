"""``/v1/Account/{auth_id}/Call/``: call detail records, newest first."""

from __future__ import annotations

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

LIST_FILTERS = frozenset(
    {
        "call_direction",
        "from_number",
        "to_number",
        "parent_call_uuid",
        "hangup_cause_code",
        "hangup_source",
        "call_status",
        "status",
    }
)
_STATES = frozenset({"live", "ended"})


def _store_filters(query: QueryParams) -> dict[str, str | int]:
    """Query filters in the store's terms: ``status`` is live/ended, numbers lose "+"."""
    found: dict[str, str | int] = dict(filters_of(query, LIST_FILTERS))
    status = found.pop("status", None)
    if status is not None:
        if status not in _STATES:
            raise ValidationError("status", "must be live or ended")
        found["state"] = status
    for name in ("from_number", "to_number"):
        if name in found:
            found[name] = str(found[name]).lstrip("+")
    if "hangup_cause_code" in found:
        found["hangup_cause_code"] = integer("hangup_cause_code", found["hangup_cause_code"])
    return found


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    filters = _store_filters(request.query_params)
    page = await store_of(request).list_calls(
        account.auth_id, limit=limit, offset=offset, filters=filters
    )
    objects = [shapes.call(record) for record in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    account = await authenticate(request)
    call_uuid = request.path_params["call_uuid"]
    record = await store_of(request).get_call(account.auth_id, call_uuid)
    if record is None:
        raise NotFound(f"call {call_uuid}")
    return reply(**shapes.call(record))
