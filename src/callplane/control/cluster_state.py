"""What is live in a cluster, in Redis: which node owns each live call, and which
nodes are alive (docs/cluster.md).

Keys (prefix ``callplane:``)::

    node:{name}    this node's API and SIP addresses, with a lease (``LEASE`` seconds, refreshed
                   every ``TICK``): the node is alive while the key exists
    nodes          set of the names of nodes that have published
    owner          hash call uuid -> node name
    calls:{name}   hash call uuid -> JSON summary (account, direction, numbers, start)
    bindings       hash address-of-record -> JSON list of its registrar bindings (wall
                   clock expiries), written by the node that took the REGISTER and
                   announced on the channel ``bindings``; every other node mirrors
                   them into its registrar, so any node's Dial reaches the phone
    room:{auth_id}:{name}  the node that owns a conference room (``cluster_rooms.py``),
                   refreshed every tick with the lease

Every node refreshes its lease each tick. When the refresh finds the key gone (Redis
restarted, or this node was cut off longer than the lease), it re-publishes
everything it owns (calls, and the bindings whose REGISTER it took last). Every
tick it also looks at the other nodes: one whose lease is gone for a whole lease is
lost; the first survivor to claim it (``SET NX``) closes its calls
(``on_node_lost``: their records, from the database, with cause ``Node Lost``) and
removes its entries.

Redis being away never holds up a call: publishing runs in the background, a
failure is logged once per outage, and the next successful tick re-publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from callplane.calls.registrar import Binding, Registrar
from callplane.control.cluster_limits import SharedLimits
from callplane.net.redis_link import connect
from callplane.sip.uri import parse_name_addr
from callplane.store.models import CallRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from callplane.calls.call import Call

log = logging.getLogger("callplane.cluster")

PREFIX = "callplane:"
LEASE = 3.0  # seconds a node counts as alive after its last refresh
TICK = 1.0  # seconds between lease refreshes and looks at the other nodes
CLAIM_SECONDS = 60  # one survivor closes a lost node's calls; the claim expires
BINDINGS = "bindings"  # the hash, and the channel announcing "{node} {aor}"


@dataclass(frozen=True, slots=True)
class Owner:
    node: str
    api_url: str  # http://host:port of its REST API


def text_of(value: bytes | str) -> str:
    """Redis answers text (``decode_responses``); typed as either."""
    return value.decode() if isinstance(value, bytes) else value


def _summary(call: Call) -> str:
    record = call.record
    account = call.route.account
    started = record.initiation_time.isoformat() if record.initiation_time else ""
    return json.dumps(
        {
            "auth_id": account.auth_id,
            "parent": account.parent_auth_id or "",
            "direction": record.call_direction,
            "from": record.from_number,
            "to": record.to_number,
            "started": started,
        }
    )


def _bindings_json(bindings: list[Binding], loop_now: float) -> str:
    """Bindings with their expiry on the wall clock (loops' clocks differ per process)."""
    wall = time.time()
    return json.dumps(
        [
            {
                "contact": str(b.contact),
                "expires": wall + (b.expires_at - loop_now),
                "call_id": b.call_id,
                "cseq": b.cseq,
                "source": list(b.source),
                "transport": b.transport,
                "path": list(b.path),
            }
            for b in bindings
        ]
    )


def _bindings_of(aor: str, text: str, loop_now: float) -> list[Binding]:
    wall = time.time()
    return [
        Binding(
            aor,
            parse_name_addr(b["contact"]),
            loop_now + (b["expires"] - wall),
            b["call_id"],
            b["cseq"],
            (b["source"][0], b["source"][1]),
            b["transport"],
            tuple(b["path"]),
        )
        for b in json.loads(text)
        if b["expires"] > wall
    ]


def _record(call_uuid: str, summary: str) -> CallRecord:
    found = json.loads(summary)
    started = datetime.fromisoformat(found["started"]) if found["started"] else None
    return CallRecord(
        call_uuid,
        found["auth_id"],
        found["from"],
        found["to"],
        found["direction"],
        initiation_time=started,  # naive UTC, as calls write it (calls/call.py utcnow)
    )


class Rooms(Protocol):
    """Conference room owners (``cluster_rooms.py``), refreshed with the lease."""

    async def refresh(self) -> None: ...

    async def owner_of(self, auth_id: str, name: str) -> Owner | None: ...

    async def names(self, auth_id: str) -> list[str]: ...


class ClusterState:
    """This node's view of the cluster's live state; see the module docstring."""

    def __init__(
        self,
        url: str,
        node: str,
        api_url: str,
        live: dict[str, Call],
        on_node_lost: Callable[[str], Awaitable[int]],
        sip_address: tuple[str, int] | None = None,
    ) -> None:
        if not node:
            raise ValueError("a cluster node needs a name (--node-name)")
        self.node = node
        self.api_url = api_url
        self.sip_address = sip_address  # where other nodes send internal INVITEs
        self.live = live  # Services.live: what this node owns
        self.on_node_lost = on_node_lost
        self.redis: Redis = connect(url)
        self._task: asyncio.Task[None] | None = None
        # call starts and ends, published in order by one writer (an end never
        # overtakes its start) and in batches under load
        self._changes: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        self.registrar: Registrar | None = None  # shared bindings (``attach_registrar``)
        self._own_aors: set[str] = set()  # REGISTERs this node took last
        self.limits: SharedLimits | None = None  # shared CPS counts and bans
        self.rooms: Rooms | None = None  # conference room owners
        self._follower: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._dirty = False  # a change was lost: the next tick re-publishes everything
        self._writing = asyncio.Lock()  # a re-publish never interleaves with a batch
        self._missing_since: dict[str, float] = {}
        self._failing = False

    def _key(self, name: str) -> str:
        return PREFIX + name

    # -- what this node owns -----------------------------------------------------------

    def attach_registrar(self, registrar: Registrar) -> None:
        """Share ``registrar``'s bindings with the other nodes and mirror theirs."""
        self.registrar = registrar
        registrar.on_change = self._bindings_changed

    def attach_limits(self, limits: SharedLimits) -> None:
        """Started and closed with this (it uses this connection)."""
        self.limits = limits

    def _bindings_changed(self, aor: str) -> None:
        self._own_aors.add(aor)
        self._changes.put_nowait((BINDINGS, aor))

    def call_started(self, call: Call) -> None:
        self._changes.put_nowait((call.uuid, _summary(call)))

    def call_ended(self, call: Call) -> None:
        self._changes.put_nowait((call.uuid, None))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._changes.get()]
            while not self._changes.empty():
                batch.append(self._changes.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:  # redis errors, timeouts
                self._dirty = True
                self._failed(exc)
            else:
                self._recovered()

    async def _write(self, batch: list[tuple[str, str | None]]) -> None:
        async with self._writing, self.redis.pipeline(transaction=False) as pipe:
            for call_uuid, summary in batch:
                if call_uuid == BINDINGS:
                    assert summary is not None
                    self._queue_bindings(pipe, summary)
                    pipe.publish(self._key(BINDINGS), f"{self.node} {summary}")
                elif summary is None:
                    pipe.hdel(self._key("owner"), call_uuid)
                    pipe.hdel(self._key(f"calls:{self.node}"), call_uuid)
                else:
                    pipe.hset(self._key("owner"), call_uuid, self.node)
                    pipe.hset(self._key(f"calls:{self.node}"), call_uuid, summary)
            await pipe.execute()

    def _queue_bindings(self, pipe: Any, aor: str) -> None:
        assert self.registrar is not None
        loop_now = asyncio.get_running_loop().time()
        bindings = self.registrar.bindings.lookup(aor, loop_now)
        if bindings:
            pipe.hset(self._key(BINDINGS), aor, _bindings_json(bindings, loop_now))
        else:
            pipe.hdel(self._key(BINDINGS), aor)

    async def _follow_bindings(self) -> None:
        """Mirror the other nodes' bindings: all of them on (re)subscribing, then each
        address-of-record another node announces."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._key(BINDINGS))
                    await self._mirror_all()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            node, _, aor = text_of(message["data"]).partition(" ")
                            if node != self.node:
                                await self._mirror(aor)
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(TICK)

    async def _mirror_all(self) -> None:
        stored = await self.redis.hgetall(self._key(BINDINGS))
        for aor, text in stored.items():
            if text_of(aor) not in self._own_aors:
                self._apply(text_of(aor), text_of(text))

    async def _mirror(self, aor: str) -> None:
        text = await self.redis.hget(self._key(BINDINGS), aor)
        self._own_aors.discard(aor)  # the phone registered through another node last
        self._apply(aor, text_of(text) if text is not None else "[]")

    def _apply(self, aor: str, text: str) -> None:
        if self.registrar is not None:
            loop_now = asyncio.get_running_loop().time()
            self.registrar.bindings.replace(aor, _bindings_of(aor, text, loop_now))

    async def republish(self) -> None:
        """Everything this node owns, again (after Redis lost it)."""
        async with self._writing, self.redis.pipeline(transaction=False) as pipe:
            live = list(self.live.items())
            calls = {uuid: _summary(call) for uuid, call in live if not call.ended}
            lease_ms = int(LEASE * 1000)
            pipe.set(self._key(f"node:{self.node}"), self._address(), px=lease_ms)
            pipe.sadd(self._key("nodes"), self.node)
            pipe.delete(self._key(f"calls:{self.node}"))
            for call_uuid, summary in calls.items():  # pipelined: one round trip
                pipe.hset(self._key("owner"), call_uuid, self.node)
                pipe.hset(self._key(f"calls:{self.node}"), call_uuid, summary)
            for aor in self._own_aors if self.registrar is not None else ():
                self._queue_bindings(pipe, aor)
            await pipe.execute()
        log.info("published this node (%s) and its %d live call(s)", self.node, len(calls))

    def _address(self) -> str:
        if self.sip_address is None:
            return json.dumps({"api": self.api_url})
        return json.dumps({"api": self.api_url, "sip": list(self.sip_address)})

    # -- the lease and the other nodes -------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._tick_forever())
        self._writer = loop.create_task(self._write_forever())
        if self.registrar is not None:
            self._follower = loop.create_task(self._follow_bindings())
        if self.limits is not None:
            self.limits.start()

    async def _tick_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                self._failed(exc)
            else:
                self._recovered()
            await asyncio.sleep(TICK)

    async def tick(self) -> None:
        key = self._key(f"node:{self.node}")
        refreshed = await self.redis.set(key, self._address(), px=int(LEASE * 1000), xx=True)
        if not refreshed or self._dirty:  # Redis lost it, or we lost changes
            self._dirty = False
            await self.republish()
        if self.rooms is not None:
            await self.rooms.refresh()
        await self._watch_others()

    async def _others(self) -> list[str]:
        members = await self.redis.smembers(self._key("nodes"))
        return [name for name in map(text_of, members) if name != self.node]

    async def _watch_others(self) -> None:
        names = await self._others()
        if not names:
            return
        alive = await self.redis.exists(*(self._key(f"node:{n}") for n in names))
        if alive == len(names):
            self._missing_since.clear()
            return
        now = time.monotonic()
        for name in names:
            if await self.redis.exists(self._key(f"node:{name}")):
                self._missing_since.pop(name, None)
                continue
            since = self._missing_since.setdefault(name, now)
            # gone for a whole lease as seen from here, so that a node that is merely
            # re-publishing after a Redis restart is never taken for lost
            if now - since >= LEASE:
                await self._claim(name)

    async def _claim(self, name: str) -> None:
        claim = self._key(f"closing:{name}")
        if not await self.redis.set(claim, self.node, nx=True, ex=CLAIM_SECONDS):
            return
        log.warning("node %s lost its lease: closing its live calls", name)
        closed = await self.on_node_lost(name)
        uuids = await self.redis.hkeys(self._key(f"calls:{name}"))
        async with self.redis.pipeline(transaction=False) as pipe:
            if uuids:
                pipe.hdel(self._key("owner"), *uuids)
            pipe.delete(self._key(f"calls:{name}"))
            pipe.srem(self._key("nodes"), name)
            await pipe.execute()
        self._missing_since.pop(name, None)
        log.warning("node %s: closed %d live call(s) it left", name, closed)

    # -- questions from the API ----------------------------------------------------------

    async def owner(self, call_uuid: str) -> Owner | None:
        """The other node that owns ``call_uuid`` and is alive, if any (None when Redis
        cannot tell: this node answers for itself)."""
        try:
            return await self._owner(call_uuid)
        except Exception as exc:
            self._failed(exc)
            return None

    async def _owner(self, call_uuid: str) -> Owner | None:
        found = await self.redis.hget(self._key("owner"), call_uuid)
        if found is None or text_of(found) == self.node:
            return None
        node = text_of(found)
        address = await self.redis.get(self._key(f"node:{node}"))
        return Owner(node, json.loads(address)["api"]) if address else None

    async def remote_calls(self, auth_id: str) -> list[CallRecord]:
        """Live calls of ``auth_id`` (or of its sub-accounts) on the other live nodes
        (none when Redis cannot tell)."""
        try:
            return await self._remote_calls(auth_id)
        except Exception as exc:
            self._failed(exc)
            return []

    async def _remote_calls(self, auth_id: str) -> list[CallRecord]:
        names = await self._others()
        found: list[CallRecord] = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._key(f"calls:{name}"))
            tables: list[dict[str, str]] = await pipe.execute()
        for table in tables:
            for call_uuid, summary in table.items():
                values = json.loads(summary)
                if auth_id in (values["auth_id"], values["parent"]):
                    found.append(_record(call_uuid, summary))
        return found

    # -- errors and the end -----------------------------------------------------------

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("cluster state: Redis unavailable (%s); calls go on", exc)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("cluster state: Redis is back")

    async def close(self) -> None:
        """Stop the lease; what this node owned goes (its calls have ended by now)."""
        if self.limits is not None:
            await self.limits.close()
        for task in (self._task, self._writer, self._follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._key(f"node:{self.node}"), self._key(f"calls:{self.node}"))
                pipe.srem(self._key("nodes"), self.node)
                await pipe.execute()
        await self.redis.aclose()


def live_records(local: list[CallRecord], remote: list[CallRecord]) -> list[CallRecord]:
    """This node's live calls and the others', newest first."""
    calls = [*local, *remote]
    calls.sort(key=lambda r: r.initiation_time or datetime.min, reverse=True)
    return calls
