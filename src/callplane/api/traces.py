"""``/v1/Account/{auth_id}/Call/{call_uuid}/Trace/``: the call inspector's trace of a
call (issue 16; the document is described in docs/api.md, "Call inspector").

A trace is stored as the call left it (``calls/trace_render.py`` ``snapshot``) and
shaped here, when asked for, so that the call path never formats one.
``format=text`` answers its SIP messages as text, one block per message, as
sngrep shows them.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from callplane.api.http import authenticate, filters_of, reply, store_of
from callplane.calls.trace_render import render, sip_text
from callplane.errors import NotFound, ValidationError

QUERY = frozenset({"format"})
FORMATS = ("json", "text")


async def get(request: Request) -> Response:
    account = await authenticate(request)
    call_uuid = request.path_params["call_uuid"]
    shown = filters_of(request.query_params, QUERY).get("format", "json")
    if shown not in FORMATS:
        raise ValidationError("format", "must be json or text")
    trace = await store_of(request).get_trace(
        account.auth_id, call_uuid, include_subaccounts=account.parent_auth_id is None
    )
    if trace is None:
        raise NotFound(f"trace of call {call_uuid}")
    document = render(orjson.loads(trace.body))
    if shown == "text":
        return PlainTextResponse(sip_text(document))
    return reply(**document)
