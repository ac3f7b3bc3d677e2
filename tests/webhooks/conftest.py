"""Fixtures: a recording HTTP server on 127.0.0.1 and a webhook client with a memory outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from recording_server import Recorder, running_server

from callplane.webhooks import MemoryOutbox, WebhookClient


@pytest.fixture
def server() -> Iterator[Recorder]:
    with running_server() as recorder:
        yield recorder


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture
async def client(outbox: MemoryOutbox) -> AsyncIterator[WebhookClient]:
    webhooks = WebhookClient(outbox=outbox, retry_backoff=0.01, outbox_delay=0.0)
    yield webhooks
    await webhooks.aclose()
