"""PreAnswer: early media (183 Session Progress) for the nested verbs, unanswered."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Dialect, Document, PreAnswer
from callplane.verbs.base import ENDED, EarlyMedia, Outcome


async def run(call: Call, verb: PreAnswer) -> Outcome:
    """Send 183; the session loop runs the nested verbs (``EarlyMedia``)."""
    if call.answered:
        call.note("PreAnswer after the call was answered: its verbs run answered", "info")
    elif not await call.early_media():
        return ENDED
    return EarlyMedia(Document(call.dialect or Dialect.PLIVO, verb.verbs))
