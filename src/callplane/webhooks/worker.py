"""Drains the outbox: re-sends callbacks that failed, with exponential backoff.

Each callback is re-sent exactly as stored (method, URL, body, content type)
with a fresh signature, keyed with the tokens :data:`KeyLookup` returns for its
account, and only where the account may reach (:class:`~callplane.webhooks.ssrf.Reach`).
A callback is deleted once delivered, dropped with an error log once older than
``max_age`` or when its account is gone, and otherwise rescheduled
``base_delay * 2**(attempts-1)`` seconds later (capped at ``max_delay``).

One batch is finished before the next is fetched, so a callback is never in
flight twice from one worker; a full batch is followed by the next at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from callplane.store.models import PendingCallback
from callplane.webhooks.client import WebhookClient
from callplane.webhooks.outbox import OutboxSink, backoff_delay, utcnow
from callplane.webhooks.signing import SigningKeys
from callplane.webhooks.ssrf import Reach

logger = logging.getLogger("callplane.webhooks")

# An account's signing keys and reach, by auth id (None: no such account).
KeyLookup = Callable[[str], Awaitable[tuple[SigningKeys, Reach] | None]]


class OutboxWorker:
    def __init__(
        self,
        client: WebhookClient,
        keys: KeyLookup,
        *,
        outbox: OutboxSink | None = None,
        interval: float = 5.0,
        base_delay: float = 30.0,
        max_delay: float = 3600.0,
        max_age: float = 86400.0,
        batch: int = 100,
    ) -> None:
        self._client = client
        self._keys = keys
        self._outbox = outbox if outbox is not None else client.outbox
        self._interval = interval
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._max_age = timedelta(seconds=max_age)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="callplane-webhook-outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self, now: datetime | None = None) -> int:
        """Process one batch of due callbacks; return how many were delivered."""
        return (await self._pass(now or utcnow()))[0]

    async def _pass(self, now: datetime) -> tuple[int, bool]:
        """One batch: (delivered, whether the batch was full, so more may be due)."""
        due = await self._outbox.due(now, self._batch)
        results = await asyncio.gather(*(self._retry(cb, now) for cb in due))
        return sum(results), len(due) >= self._batch

    async def _run(self) -> None:
        while True:
            full = False
            try:
                _, full = await self._pass(utcnow())
            except Exception:  # a broken store must not kill the worker
                logger.exception("webhook outbox pass failed")
            if not full:  # a backlog (after a restart, an outage) is worked off at once
                await asyncio.sleep(self._interval)

    async def _retry(self, cb: PendingCallback, now: datetime) -> bool:
        if cb.created is not None and now - cb.created > self._max_age:
            return await self._drop(cb, "too old")
        found = await self._keys(cb.auth_id)
        if found is None:
            return await self._drop(cb, "account not found")
        if await self._client.resend(cb, *found):
            await self._outbox.delete(cb.callback_id)
            logger.info(
                "callback delivered from outbox",
                extra={"url": cb.url, "attempt": cb.attempts + 1},
            )
            return True
        attempts = cb.attempts + 1
        delay = backoff_delay(attempts, self._base_delay, self._max_delay)
        await self._outbox.reschedule(cb.callback_id, attempts, now + timedelta(seconds=delay))
        return False

    async def _drop(self, cb: PendingCallback, reason: str) -> bool:
        await self._outbox.delete(cb.callback_id)
        logger.error(
            "callback dropped (%s) after %d attempts",
            reason,
            cb.attempts,
            extra={"url": cb.url, "attempt": cb.attempts},
        )
        return False
