"""The verb loop: fetch the answer document, run its verbs, follow redirects and transfers.

Executors return Outcomes; this loop alone decides what runs next. A transfer
(REST ``POST /Call/{uuid}/``) cancels the document being executed and carries
on with the one fetched from the transfer URL.
"""

from __future__ import annotations

import asyncio
import logging

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.trace import CallTrace
from callplane.markup.verbs import Document
from callplane.verbs import EXECUTORS, PENDING
from callplane.verbs.base import EarlyMedia, Ended, NewDocument
from callplane.webhooks.observe import OBSERVER

log = logging.getLogger("callplane.calls")

MAX_DOCUMENTS = 100  # redirect loops end here


async def run(call: Call, first: Document | None = None) -> None:
    """Run the call's documents: ``first`` if given (inline), else the answer URL's."""
    OBSERVER.set(call.trace)  # this task's webhooks go into the call's trace
    try:
        document = first if first is not None else await call.fetch_answer()
        for _ in range(MAX_DOCUMENTS):
            if document is None or call.ended:
                break
            document = await _execute_or_transfer(call, document)
        else:
            call.note(f"more than {MAX_DOCUMENTS} documents in a row: redirect loop?", "error")
            call.fail(causes.INVALID_ANSWER_XML)
        if not call.ended:
            await call.end_of_document()
    except asyncio.CancelledError:
        if not call.ended:
            raise
    except Exception as exc:  # a bug must not leave the call without a record
        log.exception("call %s failed", call.uuid)
        call.note(f"internal error: {exc!r}", "error")
        call.fail(causes.INTERNAL_ERROR)


async def _execute_or_transfer(call: Call, document: Document) -> Document | None:
    call.executing = asyncio.ensure_future(execute(call, document))
    try:
        return await call.executing
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if call.transfer_to is None or (current is not None and current.cancelling()):
            raise
    target = call.transfer_to
    call.transfer_to = None
    if isinstance(target, Document):
        call.note("transferred to an inline document")
        return target
    url, method = target
    call.note(f"transferred to {url}")
    return await call.fetch_action(url, method)


async def execute(call: Call, document: Document) -> Document | None:
    for verb in document.verbs:
        executor = EXECUTORS.get(type(verb))
        call.note(f"verb {type(verb).__name__}")
        if executor is None:
            call.fail_unsupported(type(verb).__name__, PENDING.get(type(verb), "unknown verb"))
            return None
        span = call.trace.verb_started(type(verb).__name__) if call.trace else None
        try:
            outcome = await executor(call, verb)
        finally:
            CallTrace.verb_ended(span)
        if isinstance(outcome, EarlyMedia):
            following = await _early(call, outcome.document)
            if following is not None:
                return following
        elif isinstance(outcome, NewDocument):
            return outcome.document
        if isinstance(outcome, Ended) or call.ended:
            return None
    return None


async def _early(call: Call, document: Document) -> Document | None:
    """PreAnswer's verbs: media verbs send early media instead of answering."""
    call.early = not call.answered
    try:
        return await execute(call, document)
    finally:
        call.early = False
