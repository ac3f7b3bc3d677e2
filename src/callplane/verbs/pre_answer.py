"""PreAnswer: early media (183 Session Progress) for the nested verbs, unanswered."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Dialect, Document, PreAnswer
from callplane.verbs.base import ENDED, NEXT, NewDocument, Outcome


async def run(call: Call, verb: PreAnswer) -> Outcome:
    if call.answered:
        call.note("PreAnswer after the call was answered: its verbs run answered", "info")
    elif not await call.early_media():
        return ENDED
    from callplane.calls import session  # the verb loop imports every executor

    call.early = not call.answered
    try:
        document = Document(call.dialect or Dialect.PLIVO, verb.verbs)
        following = await session.execute(call, document)
    finally:
        call.early = False
    if call.ended:
        return ENDED
    return NEXT if following is None else NewDocument(following)
