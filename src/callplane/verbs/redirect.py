"""Redirect: fetch a new document and carry on with it."""

from __future__ import annotations

from callplane.calls.call import Call
from callplane.markup.verbs import Redirect
from callplane.verbs.base import ENDED, NewDocument, Outcome


async def run(call: Call, verb: Redirect) -> Outcome:
    document = await call.fetch_action(verb.url, verb.method)
    return ENDED if document is None else NewDocument(document)
