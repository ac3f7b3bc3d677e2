"""GetInput / GetDigits / Gather: prompts that stop on the first key, then collect DTMF.

Digits come from RFC 4733 events and SIP INFO. Input ends on ``finish_on_key``
(not included), on ``num_digits``, after ``digit_end_timeout`` seconds between
keys, or after ``execution_timeout`` seconds with no key at all. Keys outside
``valid_digits`` are ignored. With input (or ``action_on_empty_result``) the
action URL gets ``Digits``; with ``redirect`` its answer is the next document,
otherwise the verbs after this one run. No input: the next verb runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from callplane.calls.call import Call
from callplane.markup.verbs import GetInput, Play, Speak, Wait
from callplane.verbs import play, speak, wait
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome

DEFAULT_DIGIT_END_TIMEOUT = 5  # Plivo's "auto"


async def run(call: Call, verb: GetInput) -> Outcome:
    if "dtmf" not in verb.input_type:
        call.note(
            "GetInput speech recognition is not available on this server "
            "(no offline speech engine installed); treated as no input",
            "error",
        )
    if not await call.media_ready():
        return ENDED
    call.media.clear_digits()
    for prompt in verb.prompts:
        await PROMPTS[type(prompt)](call, prompt, until_digit=True)
        if not call.media.digits.empty() or call.ended:
            break
    if call.ended:
        return ENDED
    digits, finished_on = await collect(call, verb)
    if not digits and not (finished_on and verb.action_on_empty_result):
        return NEXT
    return await report(call, verb, digits, finished_on)


PROMPTS: dict[type, Callable[..., Awaitable[object]]] = {
    Speak: speak.run,
    Play: play.run,
    Wait: wait.run,
}


async def collect(call: Call, verb: GetInput) -> tuple[str, str]:
    """(digits, finishing key) as the caller typed them."""
    digits = ""
    timeout: float = verb.execution_timeout
    end_timeout = verb.digit_end_timeout or DEFAULT_DIGIT_END_TIMEOUT
    while True:
        try:
            key = await asyncio.wait_for(call.media.digits.get(), timeout)
        except TimeoutError:
            return digits, ""
        if key in verb.finish_on_key and verb.finish_on_key:
            return digits, key
        if key not in verb.valid_digits:
            continue
        digits += key
        if verb.num_digits and len(digits) >= verb.num_digits:
            return digits, ""
        timeout = end_timeout


async def report(call: Call, verb: GetInput, digits: str, finished_on: str) -> Outcome:
    if not verb.action:
        call.note(f"GetInput got {digits!r} but has no action URL to send it to", "info")
        return NEXT
    extra = {"Digits": digits, "InputType": "dtmf", "FinishedOnKey": finished_on}
    if not verb.redirect:
        await call.notify_action(verb.action, verb.method, extra)
        return NEXT
    document = await call.fetch_action(verb.action, verb.method, extra)
    return ENDED if document is None else NewDocument(document)
