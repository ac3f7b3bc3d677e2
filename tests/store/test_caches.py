"""The store's in-memory caches: shared loads, stale values answered while refreshing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callplane.store.caches import Refreshed


class Source:
    """A load that returns 1, 2, 3... and waits for ``release`` when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.release: asyncio.Event | None = None
        self.fail = False

    async def load(self) -> int:
        self.calls += 1
        value = self.calls
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("database gone")
        return value


async def settle() -> None:
    """Let a finished load's task and done-callback run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_that_miss_at_once_share_one_load() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=60)
    source = Source()
    source.release = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("k", source.load)) for _ in range(5)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert source.calls == 1
    assert await cache.get("k", source.load) == 1
    assert source.calls == 1


async def test_an_old_value_is_answered_while_one_refresh_runs() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=0)
    source = Source()
    assert await cache.get("k", source.load) == 1
    source.release = asyncio.Event()
    assert await cache.get("k", source.load) == 1  # old, and a refresh started
    await settle()
    assert await cache.get("k", source.load) == 1  # old, the same refresh still running
    assert source.calls == 2
    source.release.set()
    await settle()
    source.release = None
    assert await cache.get("k", source.load) == 2


async def test_after_clear_callers_wait_for_a_load_that_starts_after_it() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=60)
    source = Source()
    source.release = asyncio.Event()
    before = asyncio.create_task(cache.get("k", source.load))
    await asyncio.sleep(0)
    cache.clear()  # a change made while the first load ran
    after = asyncio.create_task(cache.get("k", source.load))
    await asyncio.sleep(0)
    source.release.set()
    assert (await before, await after) == (1, 2)
    assert await cache.get("k", source.load) == 2  # the load that began after the change


async def test_a_value_put_while_a_refresh_runs_is_kept() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=0)
    source = Source()
    assert await cache.get("k", source.load) == 1
    source.release = asyncio.Event()
    assert await cache.get("k", source.load) == 1  # a refresh started
    await settle()
    cache.put("k", 10)  # e.g. the routing reload after a change, newer than the refresh
    source.release.set()
    await settle()
    cache.ttl = 60
    assert await cache.get("k", source.load) == 10


async def test_a_change_made_here_applies_to_the_value_and_drops_a_running_load() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=0)
    source = Source()
    assert await cache.get("k", source.load) == 1
    source.release = asyncio.Event()
    assert await cache.get("k", source.load) == 1  # a refresh started before the change
    await settle()
    cache.change("k", lambda total: total + 5)
    source.release.set()
    await settle()
    cache.ttl = 60
    assert await cache.get("k", source.load) == 6
    cache.change("absent", lambda total: total + 5)
    source.release = None
    assert await cache.get("absent", source.load) == 3  # nothing to change: loaded


async def test_forget_drops_the_picked_keys_only() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=60)
    source = Source()
    for key in ("a1", "a2", "b1"):
        await cache.get(key, source.load)
    cache.forget(lambda key: key.startswith("a"))
    assert await cache.get("b1", source.load) == 3
    assert await cache.get("a1", source.load) == 4
    assert source.calls == 4


async def test_a_failed_refresh_keeps_the_old_value(caplog: pytest.LogCaptureFixture) -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=0)
    source = Source()
    assert await cache.get("k", source.load) == 1
    source.fail = True
    with caplog.at_level(logging.WARNING, logger="callplane.store"):
        assert await cache.get("k", source.load) == 1
        await settle()
    assert "keeping the old value" in caplog.text
    assert await cache.get("k", source.load) == 1
    await settle()


async def test_a_failed_first_load_reaches_the_callers() -> None:
    cache: Refreshed[str, int] = Refreshed(ttl=60)
    source = Source()
    source.fail = True
    with pytest.raises(RuntimeError, match="database gone"):
        await cache.get("k", source.load)
    source.fail = False
    assert await cache.get("k", source.load) == 2
