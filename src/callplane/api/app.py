"""The REST API application: Plivo-compatible paths under ``/v1/Account/{auth_id}/``,
Twilio-compatible ones under ``/2010-04-01/Accounts/{AccountSid}/`` (``twilio_routes``).

Each path answers with or without its trailing slash. Errors are translated
here, once: :class:`ApiError` (401 and malformed bodies), the store's
``NotFound`` (404) and ``ValidationError`` (400, naming the field), and
Starlette's own 404/405 for unknown paths and wrong methods.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from callplane.api import console, node, openapi, twilio_routes
from callplane.api.body_limit import DEFAULT_MAX_BODY, BodyLimit
from callplane.api.cluster_forward import ForwardToOwner
from callplane.api.http import ApiError, OnChange, error_reply
from callplane.api.live_protocol import LiveCalls, LiveConferences
from callplane.api.operations import OPERATIONS
from callplane.control.cluster_state import ClusterState
from callplane.errors import NotFound, ValidationError
from callplane.net.auth_failures import AuthFailures
from callplane.net.guard import SourceGuard
from callplane.store import Store

log = logging.getLogger("callplane.api")

BASE = "/v1/Account/{auth_id}"


def _routes() -> list[BaseRoute]:
    """One route per operation, each with and without the trailing slash.

    Starlette tries routes in order, so the hot read paths (call records) go first.
    """
    hot_first = sorted(OPERATIONS, key=lambda op: op.tag != "Call")
    routes: list[BaseRoute] = [
        Route(path, op.handler, methods=[op.method])
        for op in hot_first
        for path in (f"{BASE}{op.path}/", f"{BASE}{op.path}")
    ]
    routes += [
        Route("/v1/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/docs", openapi.docs_page, methods=["GET"]),
        Route("/docs/", openapi.docs_page, methods=["GET"]),
    ]
    return routes


ROUTES: list[BaseRoute] = _routes()


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_reply(request, exc.status, exc.error)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_reply(request, 404, f"{exc} not found")


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    message = str(exc).removeprefix(f"{exc.field}: ")
    return error_reply(request, 400, {exc.field: message})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "not found", 405: "method not allowed"}
    return error_reply(request, exc.status_code, messages.get(exc.status_code, exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_reply(request, 500, "server error")


class RejectNul:
    """400 for a NUL character in the path or query: no database stores or compares it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            body = {"api_id": str(uuid.uuid4()), "error": "NUL characters are not allowed"}
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or b"%00" in query


def create_app(
    store: Store,
    *,
    on_change: OnChange | None = None,
    live: LiveCalls | None = None,
    conferences: LiveConferences | None = None,
    failures: AuthFailures | None = None,
    guard: SourceGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    cluster: ClusterState | None = None,
    local_calls: Mapping[str, Any] | None = None,
) -> Starlette:
    """The API over ``store``; ``on_change()`` (sync or async) runs after each write.

    ``live`` controls running calls, ``conferences`` running conference rooms,
    ``guard`` holds the SIP transport's bans; without them the live-call, conference
    and ban operations answer 503. ``failures`` counts wrong
    credentials per client IP and bans (403) after too many (``callplane serve``
    shares it with SIP); without it nothing is counted. Request bodies over
    ``max_body_bytes`` get 413. ``cluster`` (with this node's ``local_calls``) sends
    requests about other nodes' live calls to them and lists live calls cluster-wide.
    """
    middleware = [Middleware(BodyLimit, max_bytes=max_body_bytes), Middleware(RejectNul)]
    if cluster is not None:
        middleware.append(Middleware(ForwardToOwner, cluster=cluster, local=local_calls or {}))
    app = Starlette(
        routes=[*node.routes(), *ROUTES, *twilio_routes.routes(), *console.routes()],
        middleware=middleware,
        exception_handlers={
            ApiError: _api_error,
            NotFound: _not_found,
            ValidationError: _invalid,
            HTTPException: _http_error,
            500: _server_error,
        },
    )
    app.state.store = store
    app.state.on_change = on_change
    app.state.live = live
    app.state.conferences = conferences
    app.state.auth_failures = failures
    app.state.guard = guard
    app.state.cluster = cluster
    return app
