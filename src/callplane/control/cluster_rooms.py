"""Which node owns each conference room, in Redis (docs/cluster.md, "Conferences
spanning nodes").

``callplane:room:{auth_id}:{name}`` holds the owner's node name with the lease's
expiry. The first member's node claims it (``SET NX``); every tick the owner refreshes
the keys of its open rooms (only where the key is missing or already its own, so a
refresh never takes a room from another node), which also re-publishes them after a
Redis restart; a room that closes is released (deleted if still its own). A member
arriving on another node finds the owner's SIP address in its lease
(``node:{name}``) and joins through an internal INVITE (``verbs/conference_remote.py``).

Redis being away, or the owner's lease gone, makes the room this node's: members are
never refused for it, at the price of two rooms until one of them empties.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from callplane.control.cluster_state import Owner, text_of
from callplane.media.conference import Conferences, Room

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("callplane.cluster")

ROOM_PREFIX = "callplane:room:"
_REFRESH = """
local v = redis.call('get', KEYS[1])
if not v or v == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2]) end
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
"""


def room_key(auth_id: str, name: str) -> str:
    return f"{ROOM_PREFIX}{auth_id}:{name}"


class ClusterRooms:
    """This node's side of room ownership; ``RoomHomes`` for the Conference verb."""

    def __init__(
        self, redis: Redis, node: str, conferences: Conferences, secret: bytes, lease_ms: int
    ) -> None:
        self.redis = redis
        self.node = node
        self.conferences = conferences
        self.secret = secret
        self.lease_ms = lease_ms
        self._tasks: set[asyncio.Task[None]] = set()
        conferences.on_close = self._closed

    async def home_of(self, auth_id: str, name: str) -> tuple[str, int] | None:
        if self.conferences.find(auth_id, name) is not None:
            return None
        for attempt in range(2):  # once more: a connection Redis dropped when it restarted
            try:
                return await self._claim(room_key(auth_id, name))
            except Exception as exc:  # redis errors, timeouts
                failure = exc
                await asyncio.sleep(0.05 * attempt)
        log.warning("room %s: owner unknown (%s); opened here", name, failure)
        return None

    async def _claim(self, key: str) -> tuple[str, int] | None:
        if await self.redis.set(key, self.node, nx=True, px=self.lease_ms):
            return None
        found = await self.redis.get(key)
        owner = text_of(found) if found is not None else None
        lease = await self.redis.get(f"callplane:node:{owner}") if owner else None
        sip = json.loads(text_of(lease)).get("sip") if lease else None
        if owner == self.node or not sip:  # ours, or its node is gone: take it
            await self.redis.set(key, self.node, px=self.lease_ms)
            return None
        return str(sip[0]), int(sip[1])

    async def owner_of(self, auth_id: str, name: str) -> Owner | None:
        """The other live node that owns the room, for forwarding the REST API."""
        if self.conferences.find(auth_id, name) is not None:
            return None
        try:
            found = await self.redis.get(room_key(auth_id, name))
            owner = text_of(found) if found is not None else None
            if not owner or owner == self.node:
                return None
            lease = await self.redis.get(f"callplane:node:{owner}")
        except Exception as exc:
            log.warning("room %s: owner unknown (%s)", name, exc)
            return None
        return Owner(owner, json.loads(text_of(lease))["api"]) if lease else None

    async def names(self, auth_id: str) -> list[str]:
        """The account's rooms on every node (none when Redis cannot tell)."""
        prefix = room_key(auth_id, "")
        try:
            return [text_of(key)[len(prefix) :] async for key in self.redis.scan_iter(prefix + "*")]
        except Exception as exc:
            log.warning("rooms of %s: unknown (%s)", auth_id, exc)
            return []

    async def refresh(self) -> None:
        """Keep this node's claim on its open rooms (and make it again after a restart)."""
        keys = self.conferences.keys()
        if not keys:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for auth_id, name in keys:
                pipe.eval(_REFRESH, 1, room_key(auth_id, name), self.node, self.lease_ms)
            await pipe.execute()

    def _closed(self, room: Room) -> None:
        task = asyncio.get_running_loop().create_task(self._release(room))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, room: Room) -> None:
        try:
            await self.redis.eval(_RELEASE, 1, room_key(room.auth_id, room.name), self.node)
        except Exception as exc:
            log.warning("room %s: not released (%s); its key expires", room.name, exc)
