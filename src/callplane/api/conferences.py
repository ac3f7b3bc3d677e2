"""Conference control, Plivo's paths: list and read running conferences, hang them up,
mute, deafen, kick, hang up, play and speak to members, record the room
(``control/conference.py`` does the work, see ``LiveConferences``).

``{member_id}`` is a member id, several separated by commas, or ``all``. An
unknown conference, or members none of whom is in it, answer 404. Without a
``LiveConferences`` (``create_app(conferences=None)``) these answer 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import (
    ApiError,
    Parser,
    authenticate,
    http_method,
    http_url,
    parse_fields,
    read_body,
    reply,
    required,
    text,
)
from callplane.api.live_protocol import LiveConferences
from callplane.calls.conference_views import ALL_MEMBERS, ConferenceView, MemberIds, MemberView
from callplane.control.cluster_state import ClusterState
from callplane.errors import NotFound, ValidationError
from callplane.media.errors import MediaError

UNAVAILABLE = "conference control is not available on this server"
# Plivo's optional asynchronous reply; accepted and ignored (the reply is synchronous).
IGNORED = frozenset({"callback_url", "callback_method"})
# The plivo SDK also repeats the path's names in every body.
BODY_IGNORED = IGNORED | {"conference_name", "member_id"}
MAX_MEMBER_IDS = 100
FILE_FORMATS = ("mp3", "wav")

PLAY_FIELDS: Mapping[str, Parser] = {"url": text}
SPEAK_FIELDS: Mapping[str, Parser] = {"text": text, "voice": text, "language": text}
RECORD_FIELDS: Mapping[str, Parser] = {
    "file_format": text,
    "callback_url": text,
    "callback_method": text,
    "transcription_type": text,
}
# Plivo's transcription of conference recordings is not offered; accepted and ignored.
RECORD_IGNORED = frozenset({"conference_name", "transcription_url", "transcription_method"})


def conferences_of(request: Request) -> LiveConferences:
    conferences: LiveConferences | None = request.app.state.conferences
    if conferences is None:
        raise ApiError(503, UNAVAILABLE)
    return conferences


async def _control(request: Request) -> tuple[str, LiveConferences, str]:
    account = await authenticate(request)
    return account.auth_id, conferences_of(request), request.path_params["name"]


async def _member_control(
    request: Request, fields: Mapping[str, Parser] | None = None
) -> tuple[str, LiveConferences, str, MemberIds, dict[str, Any]]:
    auth_id, conferences, name = await _control(request)
    ids = member_ids(request.path_params["member_id"])
    values = parse_fields(await read_body(request), fields or {}, BODY_IGNORED)
    return auth_id, conferences, name, ids, values


def member_ids(value: str) -> MemberIds:
    """``all``, or member ids separated by commas."""
    if value.strip().lower() == ALL_MEMBERS:
        return ALL_MEMBERS
    ids = tuple(part.strip() for part in value.split(","))
    if not all(ids) or len(ids) > MAX_MEMBER_IDS:
        raise ValidationError(
            "member_id", f"must be all, or up to {MAX_MEMBER_IDS} ids separated by commas"
        )
    return ids


def _acted(done: list[str] | None, name: str, ids: MemberIds) -> list[str]:
    if done is None:
        raise NotFound(f"conference {name}")
    if not done:
        shown = ids if ids == ALL_MEMBERS else ",".join(ids)
        raise NotFound(f"conference member {shown}")
    return done


# -- conferences --------------------------------------------------------------------


async def list_(request: Request) -> Response:
    """The names of the account's running conferences (on every node of a cluster)."""
    account = await authenticate(request)
    _no_query(request)
    names = conferences_of(request).names(account.auth_id)
    cluster: ClusterState | None = request.app.state.cluster
    if cluster is not None and cluster.rooms is not None:
        names = sorted({*names, *await cluster.rooms.names(account.auth_id)})
    return reply(conferences=names)


async def get(request: Request) -> Response:
    auth_id, conferences, name = await _control(request)
    _no_query(request)
    view = conferences.get(auth_id, name)
    if view is None:
        raise NotFound(f"conference {name}")
    return reply(**conference_shape(view))


async def hangup(request: Request) -> Response:
    auth_id, conferences, name = await _control(request)
    parse_fields(await read_body(request), {}, BODY_IGNORED)
    if not conferences.hangup(auth_id, name):
        raise NotFound(f"conference {name}")
    return reply(204)


async def hangup_all(request: Request) -> Response:
    account = await authenticate(request)
    parse_fields(await read_body(request), {}, IGNORED)
    conferences_of(request).hangup_all(account.auth_id)
    return reply(204)


async def record(request: Request) -> Response:
    auth_id, conferences, name = await _control(request)
    values = parse_fields(await read_body(request), RECORD_FIELDS, RECORD_IGNORED)
    file_format = (values.get("file_format") or "mp3").lower()
    if file_format not in FILE_FORMATS:
        raise ValidationError("file_format", "must be mp3 or wav")
    if values.get("transcription_type"):
        raise ValidationError("transcription_type", "transcription is not supported")
    callback_url = values.get("callback_url") or ""
    if callback_url:
        http_url("callback_url", callback_url)
    started = conferences.record(
        auth_id,
        name,
        file_format=file_format,
        callback_url=callback_url,
        callback_method=http_method("callback_method", values.get("callback_method", "")),
    )
    if started is None:
        raise NotFound(f"conference {name}")
    return reply(
        202,
        message="conference recording started",
        recording_id=started.recording_id,
        url=started.url,
    )


async def record_stop(request: Request) -> Response:
    auth_id, conferences, name = await _control(request)
    parse_fields(await read_body(request), {}, BODY_IGNORED)
    if not await conferences.record_stop(auth_id, name):
        raise NotFound(f"recording of conference {name}")
    return reply(204)


# -- members ------------------------------------------------------------------------


async def mute(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    done = _acted(conferences.mute(auth_id, name, ids, True), name, ids)
    return reply(202, message="mute", member_id=done)


async def unmute(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    _acted(conferences.mute(auth_id, name, ids, False), name, ids)
    return reply(204)


async def deaf(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    done = _acted(conferences.deafen(auth_id, name, ids, True), name, ids)
    return reply(202, message="deaf", member_id=done)


async def undeaf(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    _acted(conferences.deafen(auth_id, name, ids, False), name, ids)
    return reply(204)


async def kick(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    done = _acted(conferences.kick(auth_id, name, ids), name, ids)
    return reply(202, message="kicked", member_id=done)


async def hangup_member(request: Request) -> Response:
    auth_id, conferences, name, ids, _ = await _member_control(request)
    _acted(conferences.hangup_members(auth_id, name, ids), name, ids)
    return reply(204)


async def play(request: Request) -> Response:
    auth_id, conferences, name, ids, values = await _member_control(request, PLAY_FIELDS)
    url = http_url("url", required(values, "url"))
    try:
        done = await conferences.play(auth_id, name, ids, url)
    except MediaError as exc:
        raise ValidationError("url", str(exc)) from exc
    _acted(done, name, ids)
    return reply(202, message="play queued into conference", member_id=done)


async def speak(request: Request) -> Response:
    auth_id, conferences, name, ids, values = await _member_control(request, SPEAK_FIELDS)
    try:
        done = await conferences.speak(
            auth_id,
            name,
            ids,
            required(values, "text"),
            voice=values.get("voice") or "WOMAN",
            language=values.get("language") or "en-US",
        )
    except MediaError as exc:
        raise ValidationError("text", str(exc)) from exc
    _acted(done, name, ids)
    return reply(202, message="speak queued into conference", member_id=done)


async def stop_audio(request: Request) -> Response:
    """``DELETE /Play/`` and ``DELETE /Speak/``: both stop what either started."""
    auth_id, conferences, name, ids, _ = await _member_control(request)
    _acted(await conferences.stop_audio(auth_id, name, ids), name, ids)
    return reply(204)


# -- shapes and checks --------------------------------------------------------------


def conference_shape(view: ConferenceView) -> dict[str, Any]:
    """Plivo's conference: counts and times as strings, as Plivo sends them."""
    return {
        "conference_name": view.name,
        "conference_uuid": view.uuid,
        "conference_run_time": str(view.run_seconds),
        "conference_member_count": str(len(view.members)),
        "members": [member_shape(m) for m in view.members],
    }


def member_shape(member: MemberView) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "muted": member.muted,
        "deaf": member.deaf,
        "from": member.from_number,
        "to": member.to_number,
        "caller_name": member.caller_name,
        "direction": member.direction,
        "call_uuid": member.call_uuid,
        "join_time": str(member.joined_seconds),
    }


def _no_query(request: Request) -> None:
    for name in request.query_params:
        if name not in BODY_IGNORED:  # the SDK sends conference_name in the query too
            raise ValidationError(name, "unknown parameter")
