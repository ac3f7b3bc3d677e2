"""Flow runs: start a flow from an API request, list runs, read a run's log.

Two paths start a run of the flow's newest published version with the request's
fields (JSON or form) as ``{{Start.http.params.<name>}}``:

* ``POST /v1/Account/{auth_id}/Flow/{flow_id}/Run/``;
* ``POST /v1/account/{auth_id}/phlo/{phlo_id}/``, the path of the plivo SDK's
  ``PhloClient`` (``phlo.run(**payload)``), with ``GET /v1/phlo/{phlo_id}/``
  for its ``phlo.get``. These two live outside ``/v1/Account/`` and are added
  to the app by :func:`install`, with the runner.

The reply comes at once (201, ``phlo_run_id`` = ``run_id``); the run goes on in
the background and ``GET .../Flow/{flow_id}/Run/{run_id}/`` shows its log.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callplane.api.flows import owned_flow
from callplane.api.http import (
    ApiError,
    list_reply,
    page_args,
    read_body,
    reply,
    store_of,
)
from callplane.api.node import check_taking_calls
from callplane.api.shapes import account_uri, plivo_time
from callplane.errors import NotFound, ValidationError
from callplane.flows.model import Flow
from callplane.flows.runtime import API_REQUEST, FlowRunner
from callplane.store.models import FlowRun
from callplane.webhooks.ssrf import reach_of


def install(app: Starlette, runner: FlowRunner | None) -> None:
    """Give ``app`` the runner and the PHLO-compatible paths outside ``/v1/Account/``."""
    app.state.flow_runner = runner
    for path, handler, method in (
        ("/v1/account/{auth_id}/phlo/{flow_id}", run, "POST"),
        ("/v1/phlo/{flow_id}", phlo, "GET"),
    ):
        app.router.routes.append(Route(f"{path}/", handler, methods=[method]))
        app.router.routes.append(Route(path, handler, methods=[method]))


def _runner(request: Request) -> FlowRunner:
    runner: FlowRunner | None = getattr(request.app.state, "flow_runner", None)
    if runner is None:
        raise ApiError(503, "flow runs are not available: the API runs without calls")
    return runner


def _run_uri(run: FlowRun) -> str:
    return f"{account_uri(run.auth_id)}Flow/{run.flow_id}/Run/{run.run_id}/"


def summary(run: FlowRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "flow_id": run.flow_id,
        "version": run.version,
        "trigger": run.trigger,
        "call_uuid": run.call_uuid,
        "run_status": run.status,  # not "status": reply() takes that for the HTTP code
        "started": plivo_time(run.started),
        "ended": plivo_time(run.ended),
        "resource_uri": _run_uri(run),
    }


async def run(request: Request) -> Response:
    """Start the newest published version from its Start node's ``api_request`` exit."""
    flow = await owned_flow(request)
    payload = await read_body(request)
    runner = _runner(request)
    if flow.published_version is None:
        raise ValidationError("flow_id", f"flow {flow.flow_id} has no published version")
    store = store_of(request)
    version = await store.get_flow_version(flow.auth_id, flow.flow_id, flow.published_version)
    if version is None:  # deleted between the two reads
        raise NotFound(f"flow {flow.flow_id}")
    if not _starts_on_request(Flow.parse(version.document)):
        message = f"version {version.version}: the Start node's api_request exit is not connected"
        raise ValidationError("flow_id", message)
    owner = await store.get_account(flow.auth_id)
    if owner is None:  # deleted meanwhile
        raise NotFound(f"flow {flow.flow_id}")
    check_taking_calls(request)
    started = await runner.start_request(version, flow.auth_id, reach_of(owner), payload)
    return reply(
        201,
        **summary(started),
        phlo_id=flow.flow_id,
        phlo_run_id=started.run_id,
        name=flow.name,
        message=f"flow {flow.name!r} version {version.version} started",
    )


def _starts_on_request(flow: Flow) -> bool:
    starts = {node.id for node in flow.nodes if node.type == "start"}
    return any(e.source in starts and e.exit == API_REQUEST for e in flow.edges)


async def phlo(request: Request) -> Response:
    """``GET /v1/phlo/{phlo_id}/``: the path has no auth id; the credentials give it."""
    request.path_params["auth_id"] = _claimed_auth_id(request)
    flow = await owned_flow(request)
    return reply(phlo_id=flow.flow_id, name=flow.name, created_on=plivo_time(flow.created))


def _claimed_auth_id(request: Request) -> str:
    """The user name of the Basic credentials; ``authenticate`` then checks them."""
    _, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


async def list_(request: Request) -> Response:
    flow = await owned_flow(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_flow_runs(
        flow.auth_id, flow.flow_id, limit=limit, offset=offset
    )
    return list_reply(request, page, limit, offset, [summary(r) for r in page.items])


async def get(request: Request) -> Response:
    flow = await owned_flow(request)
    run_id = request.path_params["run_id"]
    found = await store_of(request).get_flow_run(flow.auth_id, flow.flow_id, run_id)
    if found is None:
        raise NotFound(f"run {run_id} of flow {flow.flow_id}")
    return reply(**summary(found), variables=found.variables, log=found.log)
