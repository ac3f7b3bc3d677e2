"""Calls-per-second limits and bans held across the nodes of a cluster, through Redis
(``--redis-url``; docs/cluster.md, "Limits across nodes").

Nothing here is on a refused packet's path: every node keeps its own ban set and its
own per-account counts, and background tasks keep them in step with Redis.

Bans: a ban made on this node (request flood, failed logins, the REST API) is written
to ``callplane:ban:{source}`` (reason and wall-clock end; the key expires with the
ban) and announced on the channel ``callplane:bans``; every other node adds it to its
local ban set, so its transport drops the source like its own bans. A lifted ban is
announced the same way. A node that (re)subscribes loads the bans in force first
(``SCAN``).

Calls per second: a fixed one-second window per account on the shared wall clock. The
node counts the calls it lets through in the current second and, every
``SYNC_SECONDS`` (20 ms) while the second has calls for the account, adds them to
``callplane:cps:{auth_id}:{second}`` (``INCRBY``, expiring after a few seconds); the
total it gets back tells it what the other nodes let through. A call is let through
while this node's count plus the others' last known count is under the limit. The
approximation: calls the other nodes let through since the last sync are not yet
known, so a burst reaching several nodes within one sync interval can pass up to the
limit on each (with calls arriving steadily, a window lets through the limit plus at
most the calls that reached the other nodes within the last sync interval: one each
when calls arrive on every node at the same moment).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callplane.net.bans import Bans

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("callplane.cluster")

PREFIX = "callplane:"
BANS = PREFIX + "bans"  # the channel
BAN_KEY = PREFIX + "ban:"  # + source: one ban, expiring with it
SYNC_SECONDS = 0.02
COUNT_EXPIRY_SECONDS = 5
RETRY_SECONDS = 1.0


@dataclass(slots=True)
class _Second:
    second: int
    mine: int = 0  # calls this node let through in this second
    pushed: int = 0  # of those, how many are counted in Redis
    others: int = 0  # the other nodes' count, as of the last sync


class SharedLimits:
    """See the module docstring; ``start()`` after creating, ``close()`` at the end."""

    def __init__(self, redis: Redis, node: str, bans: Bans) -> None:
        self.redis = redis
        self.node = node
        self.bans = bans
        self.clock = time.time  # the window is on the wall clock, shared by the nodes
        self._counts: dict[str, _Second] = {}
        self._wake = asyncio.Event()
        self._announce: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._failing = False

    # -- calls per second ----------------------------------------------------------------

    def cps_allows(self, auth_id: str, rate: float) -> bool:
        """One call for ``auth_id`` limited to ``rate`` calls/s cluster-wide (at least 1)."""
        second = int(self.clock())
        entry = self._counts.get(auth_id)
        if entry is None or entry.second != second:
            entry = self._counts[auth_id] = _Second(second)
        self._wake.set()
        if entry.mine + entry.others >= max(math.floor(rate), 1):
            return False
        entry.mine += 1
        return True

    async def _sync_forever(self) -> None:
        while True:
            if not self._counts:  # no calls this second: sleep until one comes
                await self._wake.wait()
            self._wake.clear()
            try:
                await self.sync()
            except Exception as exc:
                self._failed(exc)
            else:
                self._recovered()
            await asyncio.sleep(SYNC_SECONDS)

    async def sync(self) -> None:
        """Add this node's new counts to Redis and learn the other nodes' counts."""
        second = int(self.clock())
        for auth_id in [a for a, e in self._counts.items() if e.second < second]:
            del self._counts[auth_id]  # a window that has ended matters no more
        entries = list(self._counts.items())
        if not entries:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for auth_id, entry in entries:
                key = f"{PREFIX}cps:{auth_id}:{entry.second}"
                pipe.incrby(key, entry.mine - entry.pushed)
                pipe.expire(key, COUNT_EXPIRY_SECONDS)
            pushed = [entry.mine for _, entry in entries]
            results = await pipe.execute()
        for (_, entry), mine, total in zip(entries, pushed, results[::2], strict=True):
            entry.pushed = mine
            entry.others = int(total) - mine

    # -- bans ----------------------------------------------------------------------------

    def _banned_here(self, source: str, reason: str, seconds: float) -> None:
        """``Bans`` listener: a ban made (or lifted, ``seconds`` 0) on this node."""
        until = time.time() + seconds if seconds > 0 else 0.0
        self._announce.put_nowait(
            json.dumps({"node": self.node, "source": source, "reason": reason, "until": until})
        )

    async def _announce_forever(self) -> None:
        while True:
            text = await self._announce.get()
            ban = json.loads(text)
            while True:
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        key = BAN_KEY + ban["source"]
                        left = ban["until"] - time.time()
                        if left > 0:
                            pipe.set(key, text, px=max(int(left * 1000), 1))
                        else:
                            pipe.delete(key)
                        pipe.publish(BANS, text)
                        await pipe.execute()
                except Exception as exc:
                    self._failed(exc)
                    await asyncio.sleep(RETRY_SECONDS)
                else:
                    self._recovered()
                    break

    async def _follow_bans(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(BANS)
                    keys = [key async for key in self.redis.scan_iter(BAN_KEY + "*", 500)]
                    for text in await self.redis.mget(keys) if keys else ():
                        if text is not None:
                            self._apply(json.loads(text), stored_ban=True)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            ban = json.loads(message["data"])
                            if ban.get("node") != self.node:
                                self._apply(ban, stored_ban=False)
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(RETRY_SECONDS)

    def _apply(self, ban: dict[str, Any], *, stored_ban: bool) -> None:
        source, until = str(ban["source"]), float(ban["until"])
        left = until - time.time()
        if until and left > 0:
            self.bans.apply(source, f"{ban['reason']} (on {ban['node']})", left)
        elif not stored_ban:
            self.bans.apply(source, "", 0.0)

    # -- start, errors, end ----------------------------------------------------------------

    def start(self) -> None:
        self.bans.listener = self._banned_here
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._sync_forever()),
            loop.create_task(self._announce_forever()),
            loop.create_task(self._follow_bans()),
        ]

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("shared limits: Redis unavailable (%s); limits are per node", exc)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("shared limits: Redis is back")

    async def close(self) -> None:
        self.bans.listener = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
