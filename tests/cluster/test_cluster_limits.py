"""Shared limits against a real redis-server (control/cluster_limits.py): a ban made
or lifted on one node reaches the others, a node that starts later loads the bans in
force, and calls per second are counted across nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from callplane.control.cluster_limits import SharedLimits
from callplane.net.bans import Bans
from callplane.net.redis_link import connect
from tests.cluster.test_cluster_state import redis_url  # noqa: F401 - the fixture


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[Callable[[str], SharedLimits]]:  # noqa: F811
    started: list[SharedLimits] = []

    def start(name: str) -> SharedLimits:
        shared = SharedLimits(connect(redis_url), name, Bans(300))
        shared.start()
        started.append(shared)
        return shared

    yield start
    for shared in started:
        await shared.close()
        await shared.redis.aclose()


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def subscribed(shared: SharedLimits) -> None:
    async def check() -> bool:
        counts = await shared.redis.pubsub_numsub("callplane:bans")
        return bool(counts and counts[0][1] >= 1)

    deadline = time.monotonic() + 10
    while not await check():
        assert time.monotonic() < deadline, "no node subscribed to the bans"
        await asyncio.sleep(0.01)


async def test_a_ban_and_its_lifting_reach_the_other_node(
    nodes: Callable[[str], SharedLimits],
) -> None:
    a, b = nodes("a"), nodes("b")
    await subscribed(b)
    assert a.bans.ban("192.0.2.7", "flood")
    await eventually(lambda: b.bans.banned("192.0.2.7"), "b to ban the source")
    assert not b.bans.ban("192.0.2.7", "again"), "b holds it as its own ban"
    assert a.bans.lift("192.0.2.7")
    await eventually(lambda: not b.bans.banned("192.0.2.7"), "b to lift the ban")


async def test_a_node_that_starts_later_loads_the_bans_in_force(
    nodes: Callable[[str], SharedLimits],
) -> None:
    a = nodes("a")
    assert a.bans.ban("192.0.2.8", "failed logins")
    await eventually_stored(a, "192.0.2.8")
    late = nodes("late")
    await eventually(lambda: late.bans.banned("192.0.2.8"), "the late node to load the ban")


async def eventually_stored(shared: SharedLimits, source: str) -> None:
    deadline = time.monotonic() + 10
    while not await shared.redis.exists(f"callplane:ban:{source}"):
        assert time.monotonic() < deadline, "the ban was not written to Redis"
        await asyncio.sleep(0.01)


async def test_calls_per_second_are_counted_across_nodes(
    nodes: Callable[[str], SharedLimits],
) -> None:
    a, b = nodes("a"), nodes("b")
    second = 1_000_000
    a.clock = b.clock = lambda: second + 0.5  # both in one window
    assert all(a.cps_allows("acct", 3) for _ in range(2))
    await a.sync()
    await b.sync()
    assert b.cps_allows("acct", 3)  # the third of the second
    await b.sync()
    await a.sync()
    assert not a.cps_allows("acct", 3) and not b.cps_allows("acct", 3)
    a.clock = b.clock = lambda: second + 1.5  # the next window
    assert a.cps_allows("acct", 3) and b.cps_allows("acct", 3)
