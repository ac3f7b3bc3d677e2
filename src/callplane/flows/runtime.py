"""Runs a published flow version: on an incoming call, or from an API request.

The walk starts at the Start node's exit for the trigger (``incoming_call``,
``api_request``), runs each node's handler from ``NODES`` (node type ->
handler), and follows the edge of the exit the handler returns; an exit with
no edge, or a handler returning None, ends the run. Handlers get the node's
effective settings (defaults filled in) and render their templates themselves.

A call run ends like a document does (``Call.end_of_document``): an answered
call is hung up, an unanswered one refused with 603, so every call still ends
with exactly one call record. An API-triggered run may place its call
(``flows/outbound.py``, when the runner has ``outbound``); it ends the same way.

The call ending under a run (the caller's BYE, the callee of a placed call
hanging up, an API hangup) cancels the run's task; that first cancellation is
taken back and the run goes on without the call, as a PHLO does: the node it
interrupted leaves by the exit it names for that case (Call Forward: how the
dial ended, so its report still goes out), nodes that need no call
(``CALL_FREE``: HTTP Request, Branch, Set Variable, Counter) run to their end,
and the first node that needs the call logs ``call_ended`` and ends the run.
Each run is saved (``flow_runs``) when it starts and when it ends, with its log
and final variables.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from callplane.calls import causes
from callplane.flows import call_nodes, http_node, logic_nodes
from callplane.flows.components import COMPONENTS, check_settings
from callplane.flows.context import RunContext, now
from callplane.flows.model import Flow, Node
from callplane.store.models import FlowRun, FlowVersion
from callplane.webhooks.checked_httpx import checked_client
from callplane.webhooks.observe import OBSERVER
from callplane.webhooks.ssrf import OutboundPolicy, Reach, reach_of

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.flows.outbound import OutboundCalls

log = logging.getLogger("callplane.flows")

Handler = Callable[[RunContext, Node, Mapping[str, Any]], Awaitable[str | None]]
Save = Callable[[FlowRun], Awaitable[None]]

NODES: dict[str, Handler] = {
    "hangup": call_nodes.hangup,
    "call_forward": call_nodes.call_forward,
    "http_request": http_node.run,
    "initiate_call": call_nodes.initiate_call,
    "ivr_menu": call_nodes.ivr_menu,
    "conference": call_nodes.conference,
    "counter": logic_nodes.counter,
    "play_audio": call_nodes.play_audio,
    "speak": call_nodes.speak_node,
    "get_input": call_nodes.get_input_node,
    "branch": logic_nodes.branch,
    "set_variable": logic_nodes.set_variable,
    "record": call_nodes.record_node,
}

# nodes that never touch the call: they run to the end even when it ends under them
CALL_FREE = frozenset({"http_request", "branch", "set_variable", "counter"})
HUNG_UP = "the call has ended; only the nodes that need no call run now"

INCOMING_CALL = "incoming_call"
API_REQUEST = "api_request"
MAX_STEPS = 1000  # a flow whose edges loop (IVR retries by hand) stops here


class FlowRunner:
    """Starts runs and keeps what they share: the HTTP clients (one per
    :class:`Reach`, each passing the outbound request policy), counters, the store writer."""

    def __init__(self, save: Save, policy: OutboundPolicy | None = None) -> None:
        self.save = save
        self.counters: dict[tuple[str, str], int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._policy = policy or OutboundPolicy()
        self._http: dict[Reach, httpx.AsyncClient] = {}
        self.outbound: OutboundCalls | None = None  # places calls; set by ``callplane serve``

    @property
    def nodes(self) -> Mapping[str, Handler]:
        """``NODES``, with the handlers that place calls when this runner can."""
        if self.outbound is None:
            return NODES
        placing = {
            "initiate_call": self.outbound.initiate_call,
            "call_forward": self.outbound.call_forward,
        }
        return {**NODES, **placing}

    def http(self, reach: Reach) -> httpx.AsyncClient:
        client = self._http.get(reach)
        if client is None:  # made on first use: tests and CLI runs never open one
            client = self._http[reach] = checked_client(self._policy, reach, follow_redirects=True)
        return client

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self._http.values():
            await client.aclose()

    def _context(
        self, version: FlowVersion, auth_id: str, reach: Reach, trigger: str, call: Call | None
    ) -> RunContext:
        run = FlowRun(
            run_id=str(uuid.uuid4()),
            auth_id=auth_id,
            flow_id=version.flow_id,
            version=version.version,
            trigger=trigger,
            call_uuid=call.uuid if call else None,
            started=now(),
        )
        return RunContext(run, call, self.http(reach), self.counters)

    async def run_call(self, call: Call, version: FlowVersion) -> None:
        """The number's flow drives ``call`` from ringing to its end."""
        flow = Flow.parse(version.document)
        account = call.route.account
        ctx = self._context(version, account.auth_id, reach_of(account), INCOMING_CALL, call)
        call.note(f"flow {version.flow_id} version {version.version}: run {ctx.run.run_id}")
        OBSERVER.set(call.trace)  # this task's webhooks go into the call's trace
        start = _start(flow)
        ctx.set(start.id, {"call": _call_variables(call)})
        try:
            await self.save(ctx.run)
            await walk(ctx, flow, start, INCOMING_CALL, self.nodes)
            if not call.ended:
                await call.end_of_document()
        except asyncio.CancelledError:
            if not call.ended:
                raise
            ctx.log(None, "call_ended", message="the caller hung up")
        except Exception as exc:  # a bug must not leave the call without a record
            log.exception("flow run %s failed", ctx.run.run_id)
            ctx.fail(None, f"internal error: {exc!r}")
            call.note(f"flow run {ctx.run.run_id}: internal error: {exc!r}", "error")
            call.fail(causes.INTERNAL_ERROR)
        finally:
            await asyncio.shield(self._finish(ctx))

    async def start_request(
        self, version: FlowVersion, auth_id: str, reach: Reach, payload: Mapping[str, Any]
    ) -> FlowRun:
        """Start an API-triggered run of ``auth_id``'s flow in the background; the run as
        saved at its start. ``reach``: where the account's requests may go."""
        flow = Flow.parse(version.document)
        ctx = self._context(version, auth_id, reach, API_REQUEST, None)
        start = _start(flow)
        params = {**(start.settings.get("api_params") or {}), **payload}
        ctx.set(start.id, {"http": {"params": params}})
        await self.save(ctx.run)
        task = asyncio.get_running_loop().create_task(self._run_request(ctx, flow, start))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return ctx.run

    async def _run_request(self, ctx: RunContext, flow: Flow, start: Node) -> None:
        """Walk from ``api_request``; a call a node placed ends as a document's does."""
        try:
            await walk(ctx, flow, start, API_REQUEST, self.nodes)
            if ctx.call is not None and not ctx.call.ended:
                await ctx.call.end_of_document()
        except asyncio.CancelledError:
            if ctx.call is None or not ctx.call.ended:
                raise
            ctx.log(None, "call_ended", message="the call ended")
        except Exception as exc:  # a bug must not leave a placed call without a record
            log.exception("flow run %s failed", ctx.run.run_id)
            ctx.fail(None, f"internal error: {exc!r}")
            if ctx.call is not None and not ctx.call.ended:
                ctx.call.note(f"flow run {ctx.run.run_id}: internal error: {exc!r}", "error")
                ctx.call.fail(causes.INTERNAL_ERROR)
        finally:
            await asyncio.shield(self._finish(ctx))

    async def _finish(self, ctx: RunContext) -> None:
        run = ctx.run
        if run.status == "running":
            run.status = "completed"
        run.ended = now()
        ctx.log(None, "end", status=run.status)
        try:
            await self.save(run)
        except Exception:  # a store failure is logged; the call goes on
            log.exception("flow run %s: could not save its log", run.run_id)


async def walk(
    ctx: RunContext, flow: Flow, start: Node, trigger: str, nodes: Mapping[str, Handler] = NODES
) -> None:
    """Run nodes from Start's ``trigger`` exit until an exit leads nowhere."""
    following = {(edge.source, edge.exit): edge.target for edge in flow.edges}
    target = following.get((start.id, trigger))
    ctx.log(start.id, "start", trigger=trigger, next=target)
    for _ in range(MAX_STEPS):
        node = flow.node(target) if target else None
        if node is None:
            return
        target = await _step(ctx, node, following, nodes)
    ctx.fail(None, f"more than {MAX_STEPS} nodes in one run: do the edges loop?")


async def _step(
    ctx: RunContext,
    node: Node,
    following: Mapping[tuple[str, str], str],
    nodes: Mapping[str, Handler],
) -> str | None:
    """Run one node; the id of the next one (None: the run ends)."""
    handler = nodes.get(node.type)
    ctx.log(node.id, "enter", type=node.type, name=node.name)
    if handler is None:
        ctx.fail(node.id, f"{node.type} nodes cannot run")
        return None
    _, settings = check_settings(COMPONENTS[node.type], node.settings)
    exit_ = await _run_node(ctx, node, handler, settings)
    target = following.get((node.id, exit_)) if exit_ else None
    values = copy.deepcopy(ctx.variables.get(node.id, {}))
    ctx.log(node.id, "exit", exit=exit_, next=target, variables=values)
    return target


async def _run_node(
    ctx: RunContext, node: Node, handler: Handler, settings: Mapping[str, Any]
) -> str | None:
    """The node's exit. The call ending cancels the run's task once: a call node then
    leaves by its ``exit_on_hangup`` (None: the run ends), a node that needs no call
    finishes anyway, and the walk goes on (the call nodes after it log the call's end)."""
    ctx.exit_on_hangup = None
    if node.type not in CALL_FREE:  # in the run's task: it may own a call it places
        try:
            return await handler(ctx, node, settings)
        except asyncio.CancelledError:
            if not _call_just_ended(ctx):
                raise
            ctx.log(node.id, "call_ended", message=HUNG_UP)
            return ctx.exit_on_hangup
    work = asyncio.ensure_future(handler(ctx, node, settings))
    while True:
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if not _call_just_ended(ctx):
                work.cancel()
                raise
            ctx.log(node.id, "call_ended", message=HUNG_UP)


def _call_just_ended(ctx: RunContext) -> bool:
    """Whether this cancellation is the run's call ending (the first one after it ended);
    if so it is taken back, so the rest of the run can still await."""
    if ctx.call is None or not ctx.call.ended or ctx.hung_up:
        return False
    ctx.hung_up = True
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return True


def _start(flow: Flow) -> Node:
    return next(node for node in flow.nodes if node.type == "start")


def _call_variables(call: Call) -> dict[str, str]:
    record = call.record
    return {
        "from": record.from_number,
        "to": record.to_number,
        "uuid": call.uuid,
        "direction": record.call_direction,
        "caller_name": record.caller_name,
    }
