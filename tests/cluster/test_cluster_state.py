"""Cluster live state against a real redis-server: leases, re-publishing after Redis
lost everything, one survivor closing a lost node, owners of calls."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callplane.control.cluster_state import LEASE, ClusterState
from tests.interop.harness import free_port


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server missing: apt-get install redis-server (.ci/run does)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait()


def node(url: str, name: str, closed: list[tuple[str, str]]) -> ClusterState:
    async def lost(other: str) -> int:
        closed.append((name, other))
        return 0

    return ClusterState(url, name, f"http://{name}.test:8080", {}, lost)


async def test_a_node_publishes_itself_again_after_redis_lost_everything(redis_url: str) -> None:
    a = node(redis_url, "a", [])
    try:
        await a.tick()
        assert await a.redis.get("callplane:node:a") == '{"api": "http://a.test:8080"}'
        await a.redis.flushall()  # what a Redis restart leaves
        await a.tick()
        assert await a.redis.sismember("callplane:nodes", "a")
        assert await a.redis.pttl("callplane:node:a") > 0
    finally:
        await a.close()


async def test_one_survivor_closes_a_node_whose_lease_ran_out(redis_url: str) -> None:
    closed: list[tuple[str, str]] = []
    a, b, c = (node(redis_url, name, closed) for name in "abc")
    try:
        for state in (a, b, c):
            await state.tick()
        await a.redis.hset("callplane:owner", "call-1", "a")
        assert await b.owner("call-1") is not None
        await a.redis.delete("callplane:node:a")  # a stopped refreshing: its lease is gone
        assert await b.owner("call-1") is None  # nobody to forward to
        deadline = time.monotonic() + LEASE * 4
        while not closed and time.monotonic() < deadline:
            await b.tick()
            await c.tick()
            await asyncio.sleep(0.1)
        await b.tick()
        await c.tick()
        assert closed in ([("b", "a")], [("c", "a")])  # once, by one survivor
        assert not await b.redis.sismember("callplane:nodes", "a")
    finally:
        for state in (a, b, c):
            await state.close()


async def test_a_node_that_only_missed_a_refresh_is_not_lost(redis_url: str) -> None:
    closed: list[tuple[str, str]] = []
    a, b = node(redis_url, "a", closed), node(redis_url, "b", closed)
    try:
        await a.tick()
        await b.tick()
        await a.redis.delete("callplane:node:a")
        await b.tick()  # sees a missing, starts counting
        deadline = time.monotonic() + LEASE * 1.5
        while time.monotonic() < deadline:  # a refreshes (publishing itself again), b looks
            await a.tick()
            await b.tick()
            await asyncio.sleep(0.2)
        assert closed == []
    finally:
        await a.close()
        await b.close()
