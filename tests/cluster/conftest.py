"""A real local cluster for the module: PostgreSQL (a new database, dropped at the
end), Redis, Kamailio in front, two `callplane serve` nodes
(``callplane.cluster.local``)."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from callplane.cluster.local import (
    DEFAULT_ADMIN_URL,
    Layout,
    LocalCluster,
    drop_database,
    ensure_database,
)
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, WebhookServer, free_ports


def _missing() -> str | None:
    if shutil.which("kamailio", path="/usr/sbin:/sbin:" + os.environ.get("PATH", "")) is None:
        return "kamailio missing: apt-get install kamailio (.ci/run does)"
    if shutil.which("sipp") is None:
        return "sipp missing: apt-get install sip-tester (.ci/run does)"
    if shutil.which("redis-server") is None:
        return "redis-server missing: apt-get install redis-server (.ci/run does)"
    return None


@pytest.fixture(scope="module")
def web() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@contextlib.contextmanager
def running_cluster(
    tmp_path_factory: pytest.TempPathFactory, node_flags: Sequence[str] = ()
) -> Iterator[LocalCluster]:
    """Two nodes behind Kamailio on a new database (dropped at the end), with Redis."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    admin = os.environ.get("CALLPLANE_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    name = f"cp_cluster_{uuid.uuid4().hex[:8]}"
    try:
        url = ensure_database(admin, name)
    except Exception as exc:
        pytest.skip(f"no PostgreSQL to create a database on ({exc}); .ci/run starts one")
    sip = free_ports(3)
    rtp = random.randrange(30000, 56000, 2)
    layout = Layout("127.0.0.1", sip, 2, free_ports(2), rtp, redis_port=free_ports(1))
    running = LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        url,
        layout,
        front_limits=False,  # the load test sends 50 calls/s from one address
        setup_ms=4000,  # answers here take milliseconds: fail over sooner than 15 s
        node_flags=node_flags,
        env={"CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        drop_database(admin, name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with running_cluster(tmp_path_factory) as running:
        yield running


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
