"""``/2010-04-01/Accounts/{AccountSid}/Recordings``: Twilio's Recording resource over
the recordings ``<Record>`` makes (list, fetch, delete, and the audio itself).

A recording's SID is ``RE`` + its id's hex digits. As on Twilio, the resource URI
without ``.json`` (``.wav``, or ``.mp3`` for MP3 recordings) is the audio file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse, store_of
from callplane.api.recordings import MEDIA_TYPES
from callplane.errors import NotFound, ValidationError
from callplane.store.ids import twilio_call_sid, uuid_of_sid, uuid_sid
from callplane.store.models import Account, Recording

LIST_FILTERS = frozenset(
    {"CallSid", *(f"DateCreated{op}" for op in ("", "<", ">")), *tw.PAGE_PARAMS}
)


def recording_shape(account: Account, recording: Recording, base: str) -> dict[str, Any]:
    """``base``: the request's scheme and host, for ``media_url`` (absolute, as on Twilio)."""
    sid = uuid_sid("RE", recording.recording_id)
    uri = f"{tw.account_uri(account)}/Recordings/{sid}"
    created = tw.rfc2822(recording.add_time)
    return {
        "sid": sid,
        "account_sid": tw.account_sid(account),
        "call_sid": twilio_call_sid(recording.call_uuid),
        "conference_sid": None,
        "date_created": created,
        "date_updated": created,
        "start_time": created,
        "duration": str(round(recording.recording_duration_ms / 1000)),
        "channels": 1,
        "source": "RecordVerb",
        "status": "completed",
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "encryption_details": None,
        "api_version": tw.API_VERSION,
        "media_url": f"{base}{uri}.{recording.recording_format}",
        "uri": f"{uri}.json",
        "subresource_uris": {},
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@tw.handler
async def list_(request: Request) -> Response:
    """``/Recordings.json``, and ``/Calls/{CallSid}/Recordings.json`` (one call's)."""
    account = await tw.account_of(request)
    query = dict(request.query_params)
    tw.check_known(query, LIST_FILTERS)
    if "call_sid" in request.path_params:
        query["CallSid"] = request.path_params["call_sid"]
    args = tw.page_args(query)
    filters: dict[str, Any] = {}
    for name, value in query.items():
        if name == "CallSid":
            filters["call_uuid"] = uuid_of_sid(value, "CA") or value
        elif name.startswith("DateCreated"):
            filters.update(tw.time_bounds(name, value))
    page = await store_of(request).list_recordings(
        account.auth_id, limit=args.size, offset=args.offset, filters=filters
    )
    items = [recording_shape(account, r, _base(request)) for r in page.items]
    return tw.list_reply(request, "recordings", items, args, page.total)


async def _owned(request: Request) -> tuple[Account, Recording, str]:
    """The caller, the recording of the path and the path's extension."""
    account = await tw.account_of(request)
    sid, dot, extension = request.path_params["recording_file"].rpartition(".")
    if not dot:
        raise ValidationError("RecordingSid", "add .json, or the audio format (.wav, .mp3)")
    recording_id = uuid_of_sid(sid, "RE") or sid
    recording = await store_of(request).get_recording(account.auth_id, recording_id)
    if recording is None:
        raise NotFound(f"recording {sid}")
    return account, recording, extension


@tw.handler
async def fetch(request: Request) -> Response:
    """``{sid}.json``: the resource; ``{sid}.wav`` (or ``.mp3``): the audio."""
    account, recording, extension = await _owned(request)
    if extension == "json":
        return JsonResponse(recording_shape(account, recording, _base(request)))
    path = Path(recording.path)
    if extension != recording.recording_format or not path.is_file():
        raise NotFound(f"recording file {recording.recording_id}.{extension}")
    return FileResponse(path, media_type=MEDIA_TYPES.get(extension, "application/octet-stream"))


@tw.handler
async def delete(request: Request) -> Response:
    account, recording, extension = await _owned(request)
    if extension != "json":
        raise NotFound(request.url.path)
    await store_of(request).delete_recording(account.auth_id, recording.recording_id)
    return Response(status_code=204)
