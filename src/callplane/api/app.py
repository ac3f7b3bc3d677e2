"""The REST API application: Plivo-compatible paths under ``/v1/Account/{auth_id}/``.

Each path answers with or without its trailing slash. Errors are translated
here, once: :class:`ApiError` (401 and malformed bodies), the store's
``NotFound`` (404) and ``ValidationError`` (400, naming the field), and
Starlette's own 404/405 for unknown paths and wrong methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callplane.api import account, applications, blocklist, calls, numbers
from callplane.api.http import ApiError, OnChange, error_reply
from callplane.errors import NotFound, ValidationError
from callplane.store import Store

log = logging.getLogger("callplane.api")

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]
BASE = "/v1/Account/{auth_id}"


def _routes(path: str, endpoints: dict[str, Endpoint]) -> list[BaseRoute]:
    """One route per method, each with and without the trailing slash."""
    return [
        Route(variant, endpoint, methods=[method])
        for method, endpoint in endpoints.items()
        for variant in (f"{BASE}{path}/", f"{BASE}{path}")
    ]


ROUTES: list[BaseRoute] = [
    *_routes("", {"GET": account.get, "POST": account.modify}),
    *_routes("/Application", {"GET": applications.list_, "POST": applications.create}),
    *_routes(
        "/Application/{app_id}",
        {"GET": applications.get, "POST": applications.modify, "DELETE": applications.delete},
    ),
    *_routes("/Number", {"GET": numbers.list_, "POST": numbers.create}),
    *_routes(
        "/Number/{number}",
        {"GET": numbers.get, "POST": numbers.modify, "DELETE": numbers.delete},
    ),
    *_routes("/Call", {"GET": calls.list_}),
    *_routes("/Call/{call_uuid}", {"GET": calls.get}),
    *_routes("/Blocklist", {"GET": blocklist.list_, "POST": blocklist.create}),
    *_routes("/Blocklist/{rule_id}", {"GET": blocklist.get, "DELETE": blocklist.delete}),
]


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


def create_app(store: Store, *, on_change: OnChange | None = None) -> Starlette:
    """The API over ``store``; ``on_change()`` (sync or async) runs after each write."""
    app = Starlette(
        routes=ROUTES,
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
    return app
