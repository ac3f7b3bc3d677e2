"""The calls a flow places: Initiate Call, and Call Forward in a run that has no call.

An API-triggered run starts without a call. **Initiate Call** places one to
``to`` (caller ID ``from``) through ``control/originate.py``; the run's own task
owns the call, so when it is answered the nodes after the ``answered`` exit act
on it, and when the callee hangs up the run stops as an incoming call's run does.
**Call Forward** without a call first calls ``from`` (showing the first ``to``);
once that person answers, it forwards them to ``to`` exactly as on an incoming
call. Unanswered, both leave through the exit of how the call ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from callplane.calls.call import Call
from callplane.calls.placed import CallRequest, Ringing
from callplane.calls.services import CallServices
from callplane.errors import SipParseError
from callplane.flows import call_nodes
from callplane.flows.context import RunContext
from callplane.flows.model import Node
from callplane.markup.verbs import DialClient, DialNumber, DialTarget, DialUser
from callplane.sip.uri import SipUri
from callplane.store.models import Account
from callplane.verbs.dial import DialResult

Accounts = Callable[[str], Awaitable[Account | None]]


class Placer(Protocol):
    """What places calls (``control/originate.py``'s ``Originator``)."""

    @property
    def services(self) -> CallServices: ...

    def new_call(self, account: Account, request: CallRequest, to: str) -> Call: ...

    async def ring(self, call: Call, request: CallRequest, to: str) -> Ringing: ...


# CallStatus of an unanswered call -> its DialStatus (design.md §4)
UNANSWERED = {"busy": "busy", "no-answer": "no-answer", "timeout": "timeout", "cancel": "no-answer"}


class OutboundCalls:
    """Node handlers that place calls; ``callplane serve`` gives the runner one."""

    def __init__(self, originator: Placer, accounts: Accounts) -> None:
        self.originator = originator
        self.accounts = accounts

    async def initiate_call(
        self, ctx: RunContext, node: Node, settings: Mapping[str, Any]
    ) -> str | None:
        if ctx.call is not None:
            return _refused(ctx, node, "Initiate Call starts a run's call; this run has one")
        to = ctx.render(settings["to"])
        targets = call_nodes.dial_targets(to)
        if len(targets) != 1:
            return _refused(ctx, node, f"Initiate Call calls one destination, not {to!r}")
        caller_id = ctx.render(settings["from"]).lstrip("+")
        ctx.log(node.id, "call", to=to, caller_id=caller_id, timeout=settings["timeout"])
        placed = await self._place(ctx, node, targets[0], caller_id, settings)
        if placed is None:
            return "failed"
        call, ringing = placed
        status = _dial_status(ringing)
        ctx.set(
            node.id,
            {
                "call_uuid": call.uuid,
                "call_status": call.record.call_status,
                "hangup_cause": ringing.cause.q850 if ringing.cause else "",
            },
        )
        ctx.log(node.id, "call_result", **ctx.variables[node.id], ring_status=ringing.rang)
        return call_nodes.DIAL_EXITS.get(status, "failed")

    async def call_forward(
        self, ctx: RunContext, node: Node, settings: Mapping[str, Any]
    ) -> str | None:
        """With a call: forward it. Without: call ``from`` first, then forward them."""
        if ctx.call is not None:
            return await call_nodes.call_forward(ctx, node, settings)
        a_party = ctx.render(settings["from"])
        targets = call_nodes.dial_targets(a_party)
        onward = call_nodes.dial_targets(ctx.render(settings["to"]))
        if len(targets) != 1 or not onward:
            message = f"Call Forward without a call calls 'from' first: {a_party!r} is not one"
            return _refused(ctx, node, message)
        shown = _caller_id(onward[0])
        ctx.log(node.id, "call", to=a_party, caller_id=shown, timeout=settings["timeout"])
        placed = await self._place(ctx, node, targets[0], shown, settings)
        if placed is None:
            return "failed"
        call, ringing = placed
        if ringing.answered:  # ``to`` sees the ``from`` party, as on Plivo
            shown_to_them = {**settings, "from": _caller_id(targets[0])}
            return await call_nodes.call_forward(ctx, node, shown_to_them)
        cause = ringing.cause.q850 if ringing.cause else ""
        result = DialResult(_dial_status(ringing), ringing.rang, cause)
        return call_nodes.dialled(ctx, node, call, result)

    async def _place(
        self,
        ctx: RunContext,
        node: Node,
        target: DialTarget,
        caller_id: str,
        settings: Mapping[str, Any],
    ) -> tuple[Call, Ringing] | None:
        """Ring ``target`` in this task; None (logged) when it cannot even be tried."""
        account = await self.accounts(ctx.run.auth_id)
        to = self._address(target)
        if account is None or to is None:
            ctx.fail(node.id, f"cannot call {target}: no such account or unregistered endpoint")
            return None
        request = CallRequest(
            from_number=caller_id,
            answer_url="",  # the flow drives the call: no URL hears of it
            caller_name=ctx.render(settings["caller_name"]),
            ring_timeout=settings["timeout"],
        )
        call = self.originator.new_call(account, request, to)
        call.task = asyncio.current_task()  # the callee's BYE or an API hangup stops the run
        run = ctx.run
        call.note(f"flow {run.flow_id} version {run.version}: run {run.run_id}")
        ctx.call, run.call_uuid = call, call.uuid
        return call, await self.originator.ring(call, request, to)

    def _address(self, target: DialTarget) -> str | None:
        """What the originator dials: a number, a SIP URI, or a registered endpoint's."""
        if isinstance(target, DialNumber):
            return target.number
        if isinstance(target, DialUser):
            return target.uri
        assert isinstance(target, DialClient)
        outbound = self.originator.services.outbound
        if outbound is None or outbound.registrar is None:
            return None
        if not outbound.registrar.lookup(target.identity):
            return None
        return f"sip:{target.identity}@{self.originator.services.settings.sip_host}"


def _dial_status(ringing: Ringing) -> str:
    if ringing.answered:
        return "completed"
    return UNANSWERED.get(ringing.cause.call_status if ringing.cause else "", "failed")


def _caller_id(target: DialTarget) -> str:
    """The caller ID the ``from`` party sees: whom they are about to be connected to."""
    if isinstance(target, DialNumber):
        return target.number
    if isinstance(target, DialUser):
        try:
            return SipUri.parse(target.uri).user or "callplane"
        except SipParseError:
            return "callplane"  # the originator logs the unusable destination
    assert isinstance(target, DialClient)
    return target.identity


def _refused(ctx: RunContext, node: Node, message: str) -> str:
    ctx.fail(node.id, message)
    return "failed"
