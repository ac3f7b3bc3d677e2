"""Plivo's Stream API on live calls: start a ``<Stream>`` on an answered call, list and
read its streams, stop one or all (``control/live.py`` does the work, see ``LiveCalls``).

A stream started here runs beside whatever the call's document is doing, exactly
like ``<Stream keepCallAlive="false">`` (``verbs/stream.py`` ``fork``); the
fields are the XML attributes' (same values, same errors).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import live as live_api
from callplane.api.http import (
    JsonResponse,
    Parser,
    flag,
    integer,
    parse_fields,
    read_body,
    reply,
    required,
    text,
)
from callplane.api.shapes import plivo_time
from callplane.calls.call import ForkedStream
from callplane.errors import NotFound, ValidationError
from callplane.markup._attributes import (
    choice,
    method,
    sip_headers,
    stream_content_type,
    websocket_url,
)
from callplane.markup.verbs import Stream

START_FIELDS: Mapping[str, Parser] = {
    "service_url": text,
    "bidirectional": flag,
    "audio_track": text,
    "stream_timeout": integer,
    "status_callback_url": text,
    "status_callback_method": text,
    "content_type": text,
    "extra_headers": text,
}
# Plivo's SDK also sends these (the path's ids again; cx_bot is Plivo's own agent product).
IGNORED = live_api.BODY_IGNORED | {"cx_bot", "stream_id"}
CHECKS: Mapping[str, tuple[str, Callable[[object], Any]]] = {
    "service_url": ("url", websocket_url),
    "audio_track": ("audio_track", choice("inbound", "outbound", "both")),
    "content_type": ("content_type", stream_content_type),
    "status_callback_method": ("status_callback_method", method),
    "extra_headers": ("extra_headers", sip_headers),
}


def _verb(values: Mapping[str, Any]) -> Stream:
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name in CHECKS and value != "":
            field_name, convert = CHECKS[name]
            try:
                fields[field_name] = convert(value)
            except ValueError as exc:
                raise ValidationError(name, f"allowed: {exc}") from None
    timeout = values.get("stream_timeout")
    if timeout is not None:
        if timeout < 1:
            raise ValidationError("stream_timeout", "must be at least 1 second")
        fields["stream_timeout"] = timeout
    fields["bidirectional"] = values.get("bidirectional", False)
    fields["status_callback_url"] = values.get("status_callback_url", "")
    return Stream(**fields)


async def start(request: Request) -> Response:
    account, live, call_uuid = await live_api._controller(request)
    values = parse_fields(await read_body(request), START_FIELDS, IGNORED)
    required(values, "service_url")
    stream_id = await live.start_stream(account.auth_id, call_uuid, _verb(values))
    if stream_id is None:
        raise NotFound(f"live call {call_uuid}")
    return reply(201, message="audio streaming started", stream_id=stream_id)


async def list_(request: Request) -> Response:
    account, live, call_uuid = await live_api._controller(request)
    found = live.streams(account.auth_id, call_uuid)
    if found is None:
        raise NotFound(f"live call {call_uuid}")
    objects = [_shape(request, account.auth_id, call_uuid, s) for s in found]
    meta = {"count": len(objects), "limit": 20, "offset": 0, "next": None, "previous": None}
    return reply(meta=meta, objects=objects)


async def get(request: Request) -> Response:
    account, live, call_uuid = await live_api._controller(request)
    stream_id = request.path_params["stream_id"]
    streams = live.streams(account.auth_id, call_uuid) or ()
    found = {stream.stream_id: stream for stream in streams}
    if stream_id not in found:
        raise NotFound(f"stream {stream_id}")
    # not reply(**shape): the stream's "status" field is reply()'s HTTP status parameter
    shape = _shape(request, account.auth_id, call_uuid, found[stream_id])
    return JsonResponse({"api_id": str(uuid.uuid4()), **shape})


async def stop_one(request: Request) -> Response:
    account, live, call_uuid = await live_api._controller(request)
    stream_id = request.path_params["stream_id"]
    parse_fields(await read_body(request), {}, IGNORED)
    if not await live.stop_streams(account.auth_id, call_uuid, stream_id):
        raise NotFound(f"stream {stream_id}")
    return reply(204)


async def stop_all(request: Request) -> Response:
    account, live, call_uuid = await live_api._controller(request)
    parse_fields(await read_body(request), {}, IGNORED)
    if not await live.stop_streams(account.auth_id, call_uuid, None):
        raise NotFound(f"live call {call_uuid}")
    return reply(204)


def _shape(request: Request, auth_id: str, call_uuid: str, stream: ForkedStream) -> dict[str, Any]:
    verb = stream.verb
    return {
        "stream_id": stream.stream_id,
        "call_uuid": call_uuid,
        "plivo_auth_id": auth_id,
        "service_url": verb.url,
        "audio_track": verb.audio_track,
        "bidirectional": verb.bidirectional,
        "content_type": verb.content_type,
        "status": stream.status,
        "status_callback_url": verb.status_callback_url,
        "created_at": plivo_time(stream.started),
        "start_time": plivo_time(stream.started),
        "end_time": plivo_time(stream.ended),
        "resource_uri": f"/v1/Account/{auth_id}/Call/{call_uuid}/Stream/{stream.stream_id}/",
    }
