"""``/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Streams``: Twilio's Stream resource.

``POST .../Streams.json`` starts a one-way fork stream on an answered live call,
exactly like ``<Start><Stream>`` (``Url``, ``Name``, ``Track``, ``StatusCallback``,
``StatusCallbackMethod``, ``Parameter{N}.Name``/``.Value``); ``POST
.../Streams/{Sid or Name}.json`` with ``Status=stopped`` stops it. The live-call work
is the Plivo Stream API's (``LiveCalls.start_stream``/``streams``/``stop_streams``).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import twilio_http as tw
from callplane.api.http import JsonResponse, http_method
from callplane.api.live import live_of
from callplane.api.live_protocol import LiveCalls
from callplane.api.twilio_calls import call_sid_of
from callplane.calls.call import ForkedStream
from callplane.errors import NotFound, ValidationError
from callplane.markup._attributes import websocket_url
from callplane.markup.twiml import STREAM_TRACKS
from callplane.markup.verbs import Stream
from callplane.store.ids import twilio_call_sid
from callplane.store.models import Account

CREATE_FIELDS = frozenset({"Url", "Name", "Track", "StatusCallback", "StatusCallbackMethod"})
PARAMETER = re.compile(r"Parameter([1-9][0-9]?)\.(Name|Value)")  # 1 to 99, as Twilio's
NOT_IN_PROGRESS = 21220


def _verb(form: tw.Form) -> Stream:
    for name in form:
        if name not in CREATE_FIELDS and not PARAMETER.fullmatch(name):
            raise ValidationError(name, "unknown parameter")
    try:
        url = websocket_url(tw.single(form, "Url"))
    except ValueError as exc:
        raise ValidationError("Url", f"required: {exc}") from None
    track = tw.single(form, "Track", "inbound_track")
    if track not in STREAM_TRACKS:
        raise ValidationError("Track", f"must be one of {', '.join(STREAM_TRACKS)}")
    return Stream(
        url=url,
        protocol="twilio",
        audio_track=STREAM_TRACKS[track],
        content_type="audio/x-mulaw;rate=8000",
        status_callback_url=tw.http_url("StatusCallback", tw.single(form, "StatusCallback")),
        status_callback_method=http_method(
            "StatusCallbackMethod", tw.single(form, "StatusCallbackMethod")
        ),
        parameters=_parameters(form),
        name=tw.single(form, "Name"),
    )


def _parameters(form: tw.Form) -> dict[str, str]:
    """``Parameter1.Name=a&Parameter1.Value=b`` -> ``{"a": "b"}``, in number order."""
    numbered = {int(found[1]) for name in form if (found := PARAMETER.fullmatch(name)) is not None}
    parameters: dict[str, str] = {}
    for number in sorted(numbered):
        name = tw.single(form, f"Parameter{number}.Name")
        if not name:
            raise ValidationError(f"Parameter{number}.Name", "required with its Value")
        parameters[name] = tw.single(form, f"Parameter{number}.Value")
    return parameters


def stream_shape(account: Account, call_uuid: str, stream: ForkedStream) -> dict[str, Any]:
    call_sid = twilio_call_sid(call_uuid)
    uri = f"{tw.account_uri(account)}/Calls/{call_sid}/Streams/{stream.stream_id}.json"
    return {
        "sid": stream.stream_id,
        "account_sid": tw.account_sid(account),
        "call_sid": call_sid,
        "name": stream.verb.name or None,
        "status": "in-progress" if stream.ended is None else "stopped",
        "date_updated": tw.rfc2822(stream.ended or stream.started),
        "uri": uri,
    }


def _find(live: LiveCalls, account: Account, call_uuid: str, sid: str) -> ForkedStream:
    """The call's stream whose SID or name is ``sid`` (a running one before an ended one)."""
    streams = live.streams(account.auth_id, call_uuid)
    if streams is None:
        raise NotFound(f"call {call_uuid}")
    named = [s for s in streams if sid in (s.stream_id, s.verb.name)]
    named.sort(key=lambda s: s.ended is None, reverse=True)
    if not named:
        raise NotFound(f"stream {sid}")
    return named[0]


@tw.handler
async def create(request: Request) -> Response:
    account = await tw.account_of(request)
    call_uuid = call_sid_of(request.path_params["call_sid"])
    verb = _verb(await tw.read_form(request))
    live = live_of(request)
    if live.streams(account.auth_id, call_uuid) is None:
        raise NotFound(f"call {call_uuid}")
    try:
        stream_id = await live.start_stream(account.auth_id, call_uuid, verb)
    except ValidationError as exc:  # too many streams on the call
        raise ValidationError("Url", str(exc).removeprefix(f"{exc.field}: ")) from None
    if stream_id is None:
        raise tw.TwilioError(400, NOT_IN_PROGRESS, "Call is not in-progress. Cannot stream.")
    stream = _find(live, account, call_uuid, stream_id)
    return JsonResponse(stream_shape(account, call_uuid, stream), status_code=201)


@tw.handler
async def update(request: Request) -> Response:
    """``Status=stopped``: stop the stream (already stopped: its resource as it is)."""
    account = await tw.account_of(request)
    call_uuid = call_sid_of(request.path_params["call_sid"])
    form = await tw.read_form(request)
    tw.check_known(form, {"Status"})
    if tw.single(form, "Status") != "stopped":
        raise ValidationError("Status", "must be stopped")
    live = live_of(request)
    stream = _find(live, account, call_uuid, request.path_params["stream_sid"])
    if stream.ended is None:
        await live.stop_streams(account.auth_id, call_uuid, stream.stream_id)
    return JsonResponse(stream_shape(account, call_uuid, stream))
