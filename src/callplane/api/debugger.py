"""``/v1/Account/{auth_id}/Debugger/``: the account's errors and warnings across calls
(invalid documents, webhook failures and timeouts, refused calls, retries
exhausted), newest first, from the call inspector's capture (issue 16)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import authenticate, filters_of, list_reply, page_args, store_of
from callplane.errors import ValidationError
from callplane.store.models import DebuggerEvent
from callplane.store.traces import DEBUGGER_LEVELS

FILTERS = frozenset({"level", "kind", "call_uuid"})


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    filters = filters_of(request.query_params, FILTERS)
    if "level" in filters and filters["level"] not in DEBUGGER_LEVELS:
        raise ValidationError("level", "must be error or warning")
    page = await store_of(request).list_debugger_events(
        account.auth_id, limit=limit, offset=offset, filters=filters
    )
    return list_reply(request, page, limit, offset, [shape(event) for event in page.items])


def shape(event: DebuggerEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "at": _iso(event),
        "level": event.level,
        "kind": event.kind,
        "message": event.message,
        "call_uuid": event.call_uuid,
    }


def _iso(event: DebuggerEvent) -> str:
    at = event.at
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
