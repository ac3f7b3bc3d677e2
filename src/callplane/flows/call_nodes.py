"""Nodes that act on the call, through the verb executors and their verb model.

Hangup refuses an unanswered call with its reason's SIP code (``normal`` counts
as ``rejected``: 603) and hangs up an answered one. Call Forward runs
``verbs.dial.dial`` and leaves through the exit of its DialStatus. Speak, Play
Audio, Get Input, IVR Menu and Record answer the call first, as the verbs do.

Once the call has ended these nodes log why and end the run. Call Forward
interrupted by the call's end (the caller hung up during the bridge or while
the callee rang) still names its exit (``RunContext.exit_on_hangup``), so the
nodes after it that need no call (HTTP Request, Branch...) run, as on Plivo.
A run without a call gets one from ``flows/outbound.py`` (Initiate Call, Call
Forward) when the runner can place calls; otherwise they log that and end the
run as failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from callplane.calls.call import Call
from callplane.flows.context import RunContext
from callplane.flows.model import Node
from callplane.markup.verbs import (
    Conference,
    Dial,
    DialClient,
    DialNumber,
    DialTarget,
    DialUser,
    GetInput,
    Hangup,
    Play,
    Record,
    Reject,
    Speak,
)
from callplane.reject_reasons import RejectReason
from callplane.verbs import EXECUTORS, dial, get_input, record, speak
from callplane.verbs import conference as conference_verb
from callplane.verbs.dial import DialResult

DIAL_EXITS = {
    "completed": "answered",
    "busy": "busy",
    "no-answer": "no_answer",
    "timeout": "no_answer",
    "failed": "failed",
}
_NUMBER = re.compile(r"\+?[0-9]{2,20}")
ALL_KEYS = "0123456789*#"
NO_PLACING = "this process places no calls (`callplane serve` does)"  # a runner without outbound


def _live_call(ctx: RunContext, node: Node) -> Call | None:
    """The run's call, or None (logged) when there is none or it has ended."""
    if ctx.call is None:
        message = (
            f"{node.type} needs a call and this run has none: place one first"
            " (Initiate Call, or Call Forward, which calls its 'from')"
        )
        ctx.fail(node.id, message)
        return None
    if ctx.call.ended:
        ctx.log(node.id, "call_ended", message="the call has ended; the flow stops here")
        return None
    return ctx.call


async def hangup(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None:
        return None
    reason = settings["reason"]
    if call.answered:
        await EXECUTORS[Hangup](call, Hangup(reason=reason))
    else:
        refusal = RejectReason.REJECTED if reason == "normal" else RejectReason(reason)
        await EXECUTORS[Reject](call, Reject(refusal))
    ctx.log(node.id, "hangup", reason=reason, sip_code=call.record.sip_response_code)
    return None


def dial_targets(to: str) -> tuple[DialTarget, ...]:
    """``"14155550100, sip:bob@example.com, alice"``: a number, a SIP URI, an endpoint."""
    targets: list[DialTarget] = []
    for item in (part.strip() for part in to.split(",")):
        if _NUMBER.fullmatch(item):
            targets.append(DialNumber(item.lstrip("+")))
        elif item.lower().startswith(("sip:", "sips:")):
            targets.append(DialUser(item))
        elif item:
            targets.append(DialClient(item))
    return tuple(targets)


async def call_forward(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    if ctx.call is None:
        ctx.fail(node.id, f"Call Forward without a call calls 'from' first; {NO_PLACING}")
        return None
    call = _live_call(ctx, node)
    if call is None:
        return None
    to = ctx.render(settings["to"])
    verb = Dial(
        targets=dial_targets(to),
        timeout=settings["timeout"],
        caller_id=ctx.render(settings["from"]).lstrip("+"),
        caller_name=ctx.render(settings["caller_name"]),
    )
    ctx.log(node.id, "dial", to=to, mode=settings["mode"], timeout=settings["timeout"])

    def abandoned(result: DialResult) -> None:
        ctx.exit_on_hangup = dialled(ctx, node, call, result)

    if settings["mode"] == "sequential":
        result = await _one_by_one(call, verb, abandoned)
    else:
        result = await dial.dial(call, verb, abandoned)
    return dialled(ctx, node, call, result)


async def _one_by_one(
    call: Call, verb: Dial, abandoned: Callable[[DialResult], None]
) -> DialResult:
    """Ring each target alone, in order, until one answers or the caller leaves."""
    result = DialResult("failed", False, "NO_ROUTE_DESTINATION")
    for target in verb.targets:
        result = await dial.dial(call, replace(verb, targets=(target,)), abandoned)
        if result.status == "completed" or call.ended:
            break
    return result


def dialled(ctx: RunContext, node: Node, call: Call, result: DialResult) -> str:
    """Set the Dial variables, log them, and name the exit of ``result``."""
    reported = dial.params(call, result)
    ctx.set(
        node.id,
        {
            "dial_status": reported["DialStatus"],
            "dial_ring_status": reported["DialRingStatus"],
            "dial_hangup_cause": reported["DialHangupCause"],
            "dial_a_leg_uuid": reported["DialALegUUID"],
            "dial_b_leg_uuid": reported["DialBLegUUID"],
        },
    )
    ctx.log(node.id, "dial_result", **reported)
    return DIAL_EXITS.get(result.status, "failed")


async def speak_node(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None:
        return None
    verb = Speak(ctx.render(settings["text"]), settings["voice"], settings["language"])
    await EXECUTORS[Speak](call, replace(verb, loop=settings["loop"]))
    return None if call.ended else "next"


async def play_audio(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None:
        return None
    await EXECUTORS[Play](call, Play(ctx.render(settings["url"]), settings["loop"]))
    return None if call.ended else "next"


async def _ask(
    ctx: RunContext, call: Call, prompt: str, settings: Mapping[str, Any], verb: GetInput
) -> str | None:
    """Speak ``prompt`` (a key stops it), then collect keys; None when the call ended."""
    if not await call.media_ready():
        return None
    call.media.clear_digits()
    if prompt:
        text = Speak(ctx.render(prompt), settings["voice"], settings["language"])
        await speak.run(call, text, until_digit=True)
    if call.ended:
        return None
    digits, _ = await get_input.collect(call, verb)
    return None if call.ended else digits


async def get_input_node(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None:
        return None
    verb = GetInput(
        execution_timeout=settings["timeout"],
        num_digits=settings["num_digits"],
        finish_on_key=settings["finish_on_key"],
        valid_digits=ALL_KEYS,
    )
    digits = await _ask(ctx, call, settings["prompt"], settings, verb)
    if digits is None:
        return None
    ctx.set(node.id, {"digits": digits})
    ctx.log(node.id, "input", digits=digits)
    if not digits:
        return "no_input"
    patterns: Mapping[str, str] = settings["patterns"]
    if not patterns:
        return "input"
    return next((name for name, rx in patterns.items() if re.fullmatch(rx, digits)), "no_match")


async def ivr_menu(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None:
        return None
    verb = GetInput(
        execution_timeout=settings["timeout"], num_digits=1, finish_on_key="", valid_digits=ALL_KEYS
    )
    outcome = "no_input"
    for attempt in range(1 + settings["retries"]):
        digits = await _ask(ctx, call, settings["prompt"], settings, verb)
        if digits is None:
            return None
        ctx.set(node.id, {"digits": digits})
        ctx.log(node.id, "input", digits=digits, attempt=attempt + 1)
        if digits in settings["choices"]:
            return digits
        outcome = "wrong_input" if digits else "no_input"
    return outcome


async def record_node(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    call = _live_call(ctx, node)
    if call is None or not await call.media_ready():
        return None
    verb = Record(
        file_format=settings["format"],
        max_length=settings["max_length"],
        timeout=settings["timeout"],
        finish_on_key=settings["finish_on_key"],
        play_beep=settings["play_beep"],
    )
    recorder = record.make_recorder(call, verb)
    if recorder.prompt.size:
        await call.media.play(recorder.prompt)
    call.media.clear_digits()
    try:
        await record.capture(call, verb, recorder)
    finally:
        saved = record.recording_params(call, await record.save(call, recorder))
        ctx.set(
            node.id,
            {
                "recording_id": saved["RecordingID"],
                "recording_url": saved["RecordUrl"],
                "duration": saved["RecordingDuration"],
            },
        )
        ctx.log(node.id, "recorded", recording_id=saved["RecordingID"])
    return None if call.ended else "next"


async def conference(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    """Join the room until leaving it (``verbs/conference.py``), then go on through ``next``."""
    call = _live_call(ctx, node)
    if call is None:
        return None
    verb = Conference(
        ctx.render(settings["room"]),
        muted=settings["muted"],
        start_conference_on_enter=settings["start_on_enter"],
        end_conference_on_exit=settings["end_on_exit"],
        max_members=settings["max_members"],
        wait_sound=ctx.render(settings["wait_sound"]),
    )
    ctx.log(node.id, "conference", room=verb.name)
    params = await conference_verb.attend(call, verb)
    ctx.set(
        node.id,
        {"conference_name": params["ConferenceName"], "conference_uuid": params["ConferenceUUID"]},
    )
    ctx.log(node.id, "conference_left", **params)
    return None if call.ended else "next"


async def initiate_call(ctx: RunContext, node: Node, settings: Mapping[str, Any]) -> str | None:
    """A runner without ``outbound`` places no calls: leave through ``failed``."""
    ctx.set(node.id, {"call_uuid": "", "call_status": "failed", "hangup_cause": ""})
    ctx.fail(node.id, f"Initiate Call: {NO_PLACING}")
    return "failed"
