"""``/v1/Account/{auth_id}/Recording/``: recordings made by ``<Record>``, newest first.

``recording_url`` is ``{base}/v1/Account/{auth_id}/Recording/{recording_id}.{format}``
with the request's own scheme and host; that URL serves the audio file to the
same Basic credentials as the rest of the API (404 for other accounts).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from callplane.api import shapes
from callplane.api.calls import RANGE_SUFFIXES, parse_time
from callplane.api.http import (
    authenticate,
    filters_of,
    list_reply,
    page_args,
    reply,
    store_of,
)
from callplane.errors import NotFound
from callplane.store.models import Recording

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_EQUAL = frozenset({"call_uuid", "from_number", "to_number", "subaccount"})
LIST_FILTERS = _EQUAL | {"add_time", *(f"add_time__{op}" for op in RANGE_SUFFIXES)}


def store_filters(query: QueryParams) -> dict[str, Any]:
    """Query filters in the store's terms (``subaccount`` is left for the caller)."""
    found: dict[str, Any] = {}
    for name, value in filters_of(query, LIST_FILTERS).items():
        if name == "subaccount":
            continue
        if name.startswith("add_time"):
            found.update(_time_filter(name, value))
        elif name in ("from_number", "to_number"):
            found[name] = value.lstrip("+")
        else:
            found[name] = value
    return found


def _time_filter(name: str, value: str) -> dict[str, Any]:
    """``add_time`` filters as ``calls`` reads ``end_time`` (a bare unit matches all of it)."""
    _, _, op = name.partition("__")
    stamp, span = parse_time(name, value)
    if op == "":
        return {"add_time__gte": stamp, "add_time__lt": stamp + span}
    if op in ("gt", "lte"):
        return {name: stamp + span - timedelta(microseconds=1)}
    return {name: stamp}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    filters = store_filters(request.query_params)
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, request.query_params.get("subaccount"))
    page = await store.list_recordings(owner, limit=limit, offset=offset, filters=filters)
    objects = [shapes.recording(item, _base(request)) for item in page.items]
    return list_reply(request, page, limit, offset, objects)


async def _visible(request: Request) -> Recording:
    """The recording of the path, if the caller (or, for a main account, a child) owns it."""
    account = await authenticate(request)
    recording_id = request.path_params["recording_id"]
    recording = await store_of(request).get_recording(
        account.auth_id, recording_id, include_subaccounts=account.parent_auth_id is None
    )
    if recording is None:
        raise NotFound(f"recording {recording_id}")
    return recording


async def get(request: Request) -> Response:
    recording = await _visible(request)
    return reply(**shapes.recording(recording, _base(request)))


async def delete(request: Request) -> Response:
    recording = await _visible(request)
    await store_of(request).delete_recording(recording.auth_id, recording.recording_id)
    return reply(204)


async def audio(request: Request) -> Response:
    """The audio file; the extension must be the recording's format."""
    recording = await _visible(request)
    file_format = request.path_params["file_format"]
    path = Path(recording.path)
    if file_format != recording.recording_format or not path.is_file():
        raise NotFound(f"recording file {recording.recording_id}.{file_format}")
    media_type = MEDIA_TYPES.get(recording.recording_format, "application/octet-stream")
    return FileResponse(path, media_type=media_type)
