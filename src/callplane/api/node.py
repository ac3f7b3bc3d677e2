"""Operations endpoints of one node (docs/operations.md).

``GET /healthz`` (alive: the event loop and the store answer) and ``GET /readyz``
(taking calls) need no credentials and do no more than one trivial read.
``GET /metrics`` is Prometheus text: with ``--metrics-token`` it asks for that
bearer token, without it it answers loopback clients only.
``/v1/Account/{auth_id}/Node/`` (main account only) shows the node's state and
``POST .../Node/Drain/`` starts draining it (``callplane node drain``).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callplane.api.http import ApiError, authenticate, main_only, reply
from callplane.control.node import Node
from callplane.metrics import CONTENT_TYPE, Metrics
from callplane.store import Store

log = logging.getLogger("callplane.api")

STORE_TIMEOUT = 2.0  # seconds a health check or scrape waits for the database


DRAINING = "this node is draining: place the call through another node"


def check_taking_calls(request: Request) -> None:
    """503 for a request that would start a call (POST /Call/, a flow run) while draining."""
    node: Node | None = getattr(request.app.state, "node", None)
    if node is not None and node.draining:
        raise ApiError(503, DRAINING)


def _node(request: Request) -> Node:
    node: Node | None = getattr(request.app.state, "node", None)
    if node is None:
        raise ApiError(503, "node operations are not available: the API runs without SIP")
    return node


async def healthz(request: Request) -> Response:
    store: Store = request.app.state.store
    try:
        await asyncio.wait_for(store.ping(), STORE_TIMEOUT)
    except Exception as exc:  # any failure to read means not alive, and says why
        log.warning("health check: the store did not answer: %r", exc)
        return JSONResponse({"status": "unhealthy", "error": "the store did not answer"}, 503)
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    node: Node | None = getattr(request.app.state, "node", None)
    state = node.state if node is not None else "starting"
    return JSONResponse({"status": state}, 200 if node is not None and node.ready else 503)


async def metrics(request: Request) -> Response:
    found: Metrics | None = getattr(request.app.state, "metrics", None)
    if found is None:
        return JSONResponse({"error": "metrics are not available"}, 503)
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return refusal
    store: Store = request.app.state.store
    try:
        found.outbox_depth.set(await asyncio.wait_for(store.outbox.depth(), STORE_TIMEOUT))
    except Exception as exc:  # the other metrics are still worth scraping
        log.warning("metrics: outbox depth unknown: %r", exc)
    return Response(found.render(), media_type=CONTENT_TYPE)


def _metrics_refusal(request: Request) -> Response | None:
    token: str = getattr(request.app.state, "metrics_token", "")
    if token:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return JSONResponse(
            {"error": "metrics need the --metrics-token as a bearer token"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return JSONResponse(
        {"error": "metrics are served to loopback clients only: start with --metrics-token"},
        403,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _state(node: Node, request: Request) -> dict[str, Any]:
    live = getattr(request.app.state, "live_count", None)
    return {
        "node_name": node.name,
        "state": node.state,
        "live_calls": live() if live is not None else None,
        "drain_timeout": node.drain_timeout,
    }


async def get(request: Request) -> Response:
    main_only(await authenticate(request), "see the node")
    node = _node(request)
    return reply(**_state(node, request))


async def drain(request: Request) -> Response:
    main_only(await authenticate(request), "drain the node")
    node = _node(request)
    node.drain()
    return reply(202, message="draining", **_state(node, request))
