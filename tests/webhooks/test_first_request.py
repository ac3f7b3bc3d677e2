"""The first webhook request after start-up imports nothing on the event loop: a
fresh interpreter imports the client as `callplane serve` does, then the modules
imported during its first request are listed. Lazy imports there (anyio's) held
the loop 15-20 ms while the first calls waited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIRST_REQUEST = """
import asyncio, sys
from recording_server import running_server
from callplane.webhooks import MemoryOutbox, WebhookClient
from callplane.webhooks.ssrf import Reach

async def main(url):
    client = WebhookClient(outbox=MemoryOutbox())
    before = set(sys.modules)
    await client.fetch(url, "POST", {"a": "1"}, "token", reach=Reach.PRIVATE)
    print(sorted(set(sys.modules) - before))
    await client.aclose()

with running_server() as recorder:
    asyncio.run(main(recorder.url("/answer")))
"""


def test_the_first_request_imports_nothing_on_the_event_loop() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
