"""Any node answers for any live call: a request about a live call this node does not
run is sent on to the node that owns it (``control/cluster_state.py`` knows which),
and its answer is passed back as it is (docs/cluster.md).

Forwarded: every request under ``/v1/Account/{auth_id}/Call/{call_uuid}/`` (hangup,
transfer, Play, Speak, DTMF, streams, recording) except reading a call record (a
``GET`` of the call itself without ``status=live``: records are in the shared
database), and Twilio's call update (``POST /2010-04-01/Accounts/{sid}/Calls/
{CallSid}.json``: end or redirect). The owner authenticates the request as usual.
Every request under ``/v1/Account/{auth_id}/Conference/{name}/`` about a room another
node owns (``control/cluster_rooms.py``: reading it, member control, recording) goes
to that node the same way.
A forwarded request carries ``X-Callplane-Forwarded`` and is never forwarded again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from callplane.control.cluster_state import ClusterState, Owner
from callplane.store.ids import uuid_of_sid

log = logging.getLogger("callplane.cluster")

FORWARDED = "x-callplane-forwarded"
_CALL_PATH = re.compile(r"^/v1/Account/[^/]+/Call/([^/]+)/?(.*)$")
_ROOM_PATH = re.compile(r"^/v1/Account/([^/]+)/Conference/([^/]+)(?:/.*)?$")
_TWILIO_CALL = re.compile(r"^/2010-04-01/Accounts/[^/]+/Calls/([^/.]+)\.json$")
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})
TIMEOUT = 10.0


def _call_of(scope: Scope) -> str | None:
    """The call uuid a request is about, if it must run where the call runs."""
    twilio = _TWILIO_CALL.match(scope["path"])
    if twilio is not None:
        sid = twilio.group(1)
        return (uuid_of_sid(sid, "CA") or sid) if scope["method"] == "POST" else None
    match = _CALL_PATH.match(scope["path"])
    if match is None:
        return None
    call_uuid, rest = match.groups()
    if not rest and scope["method"] == "GET":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("status", [""])[-1] != "live":
            return None  # the call record
    return call_uuid


class ForwardToOwner:
    """ASGI middleware; ``local`` is this node's live calls by uuid (``Services.live``)."""

    def __init__(self, app: ASGIApp, cluster: ClusterState, local: Mapping[str, Any]) -> None:
        self.app = app
        self.cluster = cluster
        self.local = local
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        if scope["type"] != "http" or FORWARDED.encode() in headers:
            await self.app(scope, receive, send)
            return
        owner = await self._owner(scope)
        if owner is None:  # nobody else runs it: this node answers (404, or the record)
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        response = await self._forward(scope, owner.api_url, body)
        await response(scope, receive, send)

    async def _owner(self, scope: Scope) -> Owner | None:
        room = _ROOM_PATH.match(scope["path"])
        if room is not None:
            rooms = self.cluster.rooms
            return await rooms.owner_of(*room.groups()) if rooms is not None else None
        call_uuid = _call_of(scope)
        if call_uuid is None or call_uuid in self.local:
            return None
        return await self.cluster.owner(call_uuid)

    async def _forward(self, scope: Scope, base: str, body: bytes) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT)
        query = scope.get("query_string", b"").decode("latin-1")
        url = base + scope["path"] + (f"?{query}" if query else "")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
            if name.decode("latin-1").lower() not in _HOP_HEADERS
        ]
        headers.append((FORWARDED, self.cluster.node))
        try:
            answer = await self._client.request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            log.warning("forwarding %s %s to %s failed: %s", scope["method"], url, base, exc)
            return Response(b'{"error": "the node running this call did not answer"}', 502,
                            media_type="application/json")  # fmt: skip
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        kept.pop("content-encoding", None)  # httpx decoded the body
        return Response(answer.content, answer.status_code, headers=kept)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
