"""No callback or record is dropped because the database was busy: another
connection holds SQLite's write lock for longer than ``busy_timeout`` while
callbacks fail and records are written; once it lets go, everything is written
and every callback is delivered, once."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from callplane.config import Settings
from callplane.control.services import Services
from callplane.server import build_services
from callplane.store import Store
from callplane.store.models import CallRecord
from callplane.webhooks import OutboxWorker, SigningKeys
from callplane.webhooks.outbox import utcnow
from callplane.webhooks.ssrf import Reach
from tests.interop.harness import WebhookServer

CALLBACKS = 20


@pytest.fixture
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[Services, Store]]:
    settings = Settings(data_dir=tmp_path)
    store = await Store.open(settings.db_url)
    built = build_services(settings, store)
    built.records.start()
    yield built, store
    await built.records.stop()
    await built.webhooks.aclose()
    await store.close()


async def until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_locked_database_delays_callbacks_and_records_but_loses_none(
    tmp_path: Path,
    web: WebhookServer,
    services: tuple[Services, Store],
    caplog: pytest.LogCaptureFixture,
) -> None:
    built, store = services
    account, _ = await store.ensure_main_account()
    url = web.set("/cb", "", status=500)  # first attempts fail: the callbacks must wait
    holder = sqlite3.connect(tmp_path / "callplane.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # SQLite's write lock, held by another connection
    try:
        with caplog.at_level(logging.WARNING, logger="callplane.records"):
            sent = [
                asyncio.create_task(
                    built.webhooks.notify(
                        url,
                        "POST",
                        {"CallUUID": f"c{i}"},
                        account.auth_token,
                        auth_id=account.auth_id,
                        reach=Reach.PRIVATE,
                    )
                )
                for i in range(CALLBACKS)
            ]
            for i in range(CALLBACKS):
                built.records.put(
                    CallRecord(f"c{i}", account.auth_id, "4930111", "4930222", state="ended")
                )
            await asyncio.gather(*sent, return_exceptions=True)
            # A batch waited out busy_timeout and failed: the lock outlived it.
            await until("a failed write", lambda: "database is locked" in caplog.text)
    finally:
        holder.rollback()
        holder.close()

    web.set("/cb", "", status=200)
    before = len(web.seen("/cb"))
    worker = OutboxWorker(
        built.webhooks, lambda _: _signing(account.auth_token), base_delay=0.0, max_delay=0.0
    )
    later = utcnow() + timedelta(hours=1)  # past every retry's backoff

    def delivered() -> Counter[str]:
        return Counter(r.params["CallUUID"] for r in web.seen("/cb")[before:])

    deadline = time.monotonic() + 30.0
    while len(delivered()) < CALLBACKS and time.monotonic() < deadline:
        await worker.run_once(later)
        await asyncio.sleep(0.05)
    await worker.run_once(later)  # nothing is left to send again
    assert delivered() == Counter({f"c{i}": 1 for i in range(CALLBACKS)})
    for i in range(CALLBACKS):
        assert await store.get_call(account.auth_id, f"c{i}") is not None


async def _signing(token: str) -> tuple[SigningKeys, Reach]:
    return SigningKeys(token), Reach.PRIVATE
