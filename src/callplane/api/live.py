"""Live call control, Plivo's paths: list and read live calls, hang up, transfer,
play, speak and send digits (``control/live.py`` does the work, see ``LiveCalls``).

``GET /Call/`` and ``GET /Call/{uuid}/`` answer live calls with ``status=live``
and call records otherwise. Without a ``LiveCalls`` (``create_app(live=None)``)
these answer 503. Only the A leg can be controlled until calls have B legs:
``legs`` (``leg`` for digits) may be ``aleg`` or absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import calls, shapes
from callplane.api.http import (
    ApiError,
    Parser,
    authenticate,
    flag,
    http_method,
    http_url,
    integer,
    page_args,
    parse_fields,
    read_body,
    reply,
    required,
    text,
)
from callplane.api.live_protocol import LiveCalls
from callplane.control.cluster_state import ClusterState, live_records
from callplane.errors import NotFound, ValidationError
from callplane.store.models import Account, CallRecord

UNAVAILABLE = "live call control is not available on this server"
# Plivo's optional asynchronous reply; accepted and ignored (the reply is synchronous).
IGNORED = frozenset({"callback_url", "callback_method"})
# The plivo SDK also repeats the path's call_uuid in every control body.
BODY_IGNORED = IGNORED | {"call_uuid"}
LIST_QUERY = frozenset({"status", "call_direction", "from_number", "to_number", *IGNORED})
GET_QUERY = frozenset({"status", *IGNORED})
DTMF_CHARS = frozenset("0123456789*#ABCDabcdwW")
MAX_DIGITS = 64

TRANSFER_FIELDS: Mapping[str, Parser] = {
    "legs": text,
    "aleg_url": text,
    "aleg_method": text,
    "bleg_url": text,
    "bleg_method": text,
}
PLAY_FIELDS: Mapping[str, Parser] = {
    "urls": text,
    "length": integer,
    "legs": text,
    "loop": flag,
    "mix": flag,
}
SPEAK_FIELDS: Mapping[str, Parser] = {
    "text": text,
    "voice": text,
    "language": text,
    "legs": text,
    "loop": flag,
    "mix": flag,
    "type": text,
}
DTMF_FIELDS: Mapping[str, Parser] = {"digits": text, "leg": text, "legs": text}


def live_of(request: Request) -> LiveCalls:
    live: LiveCalls | None = request.app.state.live
    if live is None:
        raise ApiError(503, UNAVAILABLE)
    return live


def _is_live(request: Request) -> bool:
    return request.query_params.get("status") == "live"


async def _controller(request: Request) -> tuple[Account, LiveCalls, str]:
    account = await authenticate(request)
    return account, live_of(request), request.path_params["call_uuid"]


def _found(done: bool, call_uuid: str) -> None:
    if not done:
        raise NotFound(f"live call {call_uuid}")


# -- reading ------------------------------------------------------------------------


async def list_calls(request: Request) -> Response:
    """``status=live``: the uuids of live calls; otherwise the call records."""
    if not _is_live(request):
        return await calls.list_(request)
    account = await authenticate(request)
    live = live_of(request)
    limit, offset = page_args(request.query_params)
    wanted = _live_filters(request)
    records = live.list(account.auth_id)
    cluster: ClusterState | None = request.app.state.cluster
    if cluster is not None:  # and the other nodes' (docs/cluster.md)
        records = live_records(records, await cluster.remote_calls(account.auth_id))
    found = [r.call_uuid for r in records if _matches(r, wanted)]
    return reply(calls=found[offset : offset + limit])


def _live_filters(request: Request) -> dict[str, Any]:
    query = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
    for name in query:
        if name not in LIST_QUERY:
            raise ValidationError(name, "unsupported filter for live calls")
    found: dict[str, Any] = {}
    if "call_direction" in query:
        if query["call_direction"] not in ("inbound", "outbound"):
            raise ValidationError("call_direction", "must be inbound or outbound")
        found["call_direction"] = query["call_direction"]
    if "from_number" in query:
        found["from_number"] = {query["from_number"].lstrip("+")}
    if "to_number" in query:  # Plivo: several numbers separated by "<"
        found["to_number"] = {n.strip().lstrip("+") for n in query["to_number"].split("<")}
    return found


def _matches(record: CallRecord, wanted: Mapping[str, Any]) -> bool:
    direction = wanted.get("call_direction")
    if direction is not None and record.call_direction != direction:
        return False
    for name in ("from_number", "to_number"):
        numbers = wanted.get(name)
        if numbers is not None and getattr(record, name).lstrip("+") not in numbers:
            return False
    return True


async def get_call(request: Request) -> Response:
    """``status=live``: the live call; otherwise the call record."""
    if not _is_live(request):
        return await calls.get(request)
    account, live, call_uuid = await _controller(request)
    for name in request.query_params:
        if name not in GET_QUERY:
            raise ValidationError(name, "unknown parameter")
    record = live.get(account.auth_id, call_uuid)
    if record is None:
        raise NotFound(f"live call {call_uuid}")
    return reply(**shapes.live_call(record))


# -- control ------------------------------------------------------------------------


async def hangup(request: Request) -> Response:
    account, live, call_uuid = await _controller(request)
    parse_fields(await read_body(request), {}, BODY_IGNORED)
    _found(await live.hangup(account.auth_id, call_uuid), call_uuid)
    return reply(204)


async def transfer(request: Request) -> Response:
    """Run the document at ``aleg_url`` on the call (Plivo's "transfer")."""
    account, live, call_uuid = await _controller(request)
    values = parse_fields(await read_body(request), TRANSFER_FIELDS, BODY_IGNORED)
    _a_leg_only(values.get("legs", ""), "legs")
    for name in ("bleg_url", "bleg_method"):
        if values.get(name):
            raise ValidationError(name, "calls have no B leg to transfer yet")
    url = http_url("aleg_url", required(values, "aleg_url"))
    method = http_method("aleg_method", values.get("aleg_method", ""))
    _found(await live.transfer(account.auth_id, call_uuid, url, method), call_uuid)
    return reply(202, message="call transferred")


async def play(request: Request) -> Response:
    account, live, call_uuid = await _controller(request)
    values = parse_fields(await read_body(request), PLAY_FIELDS, BODY_IGNORED)
    _a_leg_only(values.get("legs", ""), "legs")
    urls = [http_url("urls", url) for url in required(values, "urls").split(",")]
    length = values.get("length")
    if length is not None and length <= 0:
        raise ValidationError("length", "must be more than 0 seconds")
    done = await live.play(
        account.auth_id,
        call_uuid,
        urls,
        loop=values.get("loop", False),
        length=length,
        mix=values.get("mix", True),
    )
    _found(done, call_uuid)
    return reply(202, message="play started")


async def speak(request: Request) -> Response:
    account, live, call_uuid = await _controller(request)
    values = parse_fields(await read_body(request), SPEAK_FIELDS, BODY_IGNORED)
    _a_leg_only(values.get("legs", ""), "legs")
    if values.get("type", "text") not in ("text", ""):
        raise ValidationError("type", "only text is supported (not ssml)")
    done = await live.speak(
        account.auth_id,
        call_uuid,
        required(values, "text"),
        voice=values.get("voice") or "WOMAN",
        language=values.get("language") or "en-US",
        loop=values.get("loop", False),
        mix=values.get("mix", True),
    )
    _found(done, call_uuid)
    return reply(202, message="speak started")


async def stop_audio(request: Request) -> Response:
    """``DELETE /Play/`` and ``DELETE /Speak/``: both stop what either started."""
    account, live, call_uuid = await _controller(request)
    parse_fields(await read_body(request), {}, BODY_IGNORED)
    _found(await live.stop_audio(account.auth_id, call_uuid), call_uuid)
    return reply(204)


async def send_digits(request: Request) -> Response:
    account, live, call_uuid = await _controller(request)
    values = parse_fields(await read_body(request), DTMF_FIELDS, BODY_IGNORED)
    for name in ("leg", "legs"):  # the SDK sends "leg"; Plivo's docs say "legs"
        _a_leg_only(values.get(name, ""), name)
    digits = required(values, "digits")
    if len(digits) > MAX_DIGITS or not set(digits) <= DTMF_CHARS:
        raise ValidationError("digits", f"at most {MAX_DIGITS} of 0-9 * # A-D, w/W to pause")
    _found(await live.send_digits(account.auth_id, call_uuid, digits), call_uuid)
    return reply(202, message="digits sent")


# -- field checks -------------------------------------------------------------------


def _a_leg_only(value: str, name: str) -> None:
    if value not in ("", "aleg"):
        raise ValidationError(name, "only aleg is supported (calls have no B leg yet)")
