"""Answer documents parsed without holding the event loop that carries calls.

Markup bounds a document (64 KiB, 1,000 elements, 32 deep), but one near those
bounds still takes milliseconds to compile (4 ms for 1,000 elements on an idle
core), and several at once add up on the loop. Documents over
``PARSE_IN_THREAD`` bytes are compiled in one worker thread: compiling is Python
code, so the loop gets the GIL back every switch interval (5 ms), and with a
single worker, big documents queue behind each other instead of multiplying the
threads the loop competes with. The common small document (a few hundred bytes,
tens of microseconds) stays on the loop, where the thread hop (0.1-0.2 ms) would
cost more than the parse.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from callplane.markup import MAX_DOCUMENT_SIZE, parse_document
from callplane.markup.verbs import Dialect, Document

PARSE_IN_THREAD = 4 << 10
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="documents")


async def parse_fetched(
    body: bytes, content_type: str | None, dialect: Dialect | None = None, base_url: str = ""
) -> Document:
    """:func:`~callplane.markup.parse_document`, off the loop when ``body`` is large.
    ``base_url`` is the URL the body came from (after redirects): relative URLs in the
    document are resolved against it."""
    if PARSE_IN_THREAD < len(body) <= MAX_DOCUMENT_SIZE:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _worker, parse_document, body, content_type, dialect, base_url
        )
    return parse_document(body, content_type, dialect, base_url)
