"""A real local cluster for the module: PostgreSQL (a new database, dropped at the
end), Redis, Kamailio in front, two `callplane serve` nodes
(``callplane.cluster.local``)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from callplane.cluster.local import DEFAULT_ADMIN_URL, Layout, LocalCluster, ensure_database
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, WebhookServer
from tests.store.databases import _admin


def _missing() -> str | None:
    if shutil.which("kamailio", path="/usr/sbin:/sbin:" + os.environ.get("PATH", "")) is None:
        return "kamailio missing: apt-get install kamailio (.ci/run does)"
    if shutil.which("sipp") is None:
        return "sipp missing: apt-get install sip-tester (.ci/run does)"
    if shutil.which("redis-server") is None:
        return "redis-server missing: apt-get install redis-server (.ci/run does)"
    return None


def _free_block(count: int) -> int:
    """A first port of ``count`` consecutive ports free for UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 60000:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    sock = socket.socket(socket.AF_INET, kind)
                    held.append(sock)
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    admin = os.environ.get("CALLPLANE_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    name = f"cp_cluster_{uuid.uuid4().hex[:8]}"
    try:
        url = ensure_database(admin, name)
    except Exception as exc:
        pytest.skip(f"no PostgreSQL to create a database on ({exc}); .ci/run starts one")
    sip = _free_block(3)
    rtp = random.randrange(30000, 56000, 2)
    layout = Layout("127.0.0.1", sip, 2, _free_block(2), rtp, redis_port=_free_block(1))
    running = LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        url,
        layout,
        front_limits=False,  # the load test sends 50 calls/s from one address
        setup_ms=4000,  # answers here take milliseconds: fail over sooner than 15 s
        env={"CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        from sqlalchemy.engine import make_url

        asyncio.run(_admin(make_url(admin), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
