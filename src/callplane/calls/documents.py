"""Answer documents parsed without holding the event loop that carries calls.

Markup bounds a document (64 KiB, 1,000 elements, 32 deep), but a document
near those bounds still takes several milliseconds to compile, and several at
once add up. Documents over ``PARSE_IN_THREAD`` bytes are compiled in a worker
thread; the common small one (a few hundred bytes: tens of microseconds) stays
on the loop, where a thread hop would cost more than the parse.
"""

from __future__ import annotations

import asyncio

from callplane.markup import MAX_DOCUMENT_SIZE, parse_document
from callplane.markup.verbs import Dialect, Document

PARSE_IN_THREAD = 4 << 10


async def parse_fetched(
    body: bytes, content_type: str | None, dialect: Dialect | None = None
) -> Document:
    """:func:`~callplane.markup.parse_document`, off the loop when ``body`` is large."""
    if PARSE_IN_THREAD < len(body) <= MAX_DOCUMENT_SIZE:
        return await asyncio.to_thread(parse_document, body, content_type, dialect)
    return parse_document(body, content_type, dialect)
