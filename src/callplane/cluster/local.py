"""A whole cluster on one machine, from the real engines: a PostgreSQL database,
Redis for live state, Kamailio in front, N ``callplane serve`` nodes on their own
ports (``callplane cluster up``, ``tests/cluster``).

Nodes behind Kamailio see every SIP request come from Kamailio's address, so the
per-source limits (``--pike-threshold``, ``--auth-failures``) move to the edge:
Kamailio applies the node defaults to the real sources and the nodes run with
both at 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from callplane.cluster import kamailio

DEFAULT_ADMIN_URL = "postgresql+asyncpg://callplane:callplane@127.0.0.1/postgres"
RTP_PORTS_PER_NODE = 2000
READY_SECONDS = 60.0  # a busy machine can take long to import and migrate


class ClusterError(RuntimeError):
    """Something the cluster needs did not start; the message says what and why."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Every address and port of a local cluster."""

    host: str = "127.0.0.1"
    sip_port: int = 5060  # Kamailio; nodes take the next ports
    nodes: int = 2
    http_port: int = 8080  # node 1's API; node i's is http_port + i - 1
    rtp_base: int = 20000  # node i takes RTP_PORTS_PER_NODE ports from here on
    redis_port: int = 6390  # 0: no Redis (nodes without live state)

    def node_sip_port(self, index: int) -> int:
        return self.sip_port + index

    def node_http_port(self, index: int) -> int:
        return self.http_port + index - 1

    def node_rtp_ports(self, index: int) -> str:
        first = self.rtp_base + (index - 1) * RTP_PORTS_PER_NODE
        return f"{first}-{first + RTP_PORTS_PER_NODE - 1}"


@dataclass
class Node:
    name: str
    sip_port: int
    http_port: int
    rtp_ports: str
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"


async def _create(admin_url: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True when it was created."""
    conn = await _connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


async def _drop(admin_url: str, name: str) -> None:
    conn = await _connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _connect(admin_url: str) -> Any:
    import asyncpg  # the postgres extra

    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn, timeout=10)


def drop_database(admin_url: str, name: str) -> None:
    """Remove database ``name`` (tests, benchmarks), even with sessions still open."""
    _check_name(name)
    asyncio.run(_drop(admin_url, name))


def _check_name(name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise ClusterError(f"database name {name!r}: letters, digits and _ only")


def ensure_database(admin_url: str, name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on ``admin_url``'s server, created if new."""
    _check_name(name)
    try:
        asyncio.run(_create(admin_url, name))
    except (OSError, ImportError) as exc:
        raise ClusterError(f"PostgreSQL at {admin_url} ({exc})") from exc
    except Exception as exc:  # asyncpg's errors: a wrong password, no CREATEDB right
        raise ClusterError(f"PostgreSQL at {admin_url}: {exc}") from exc
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@dataclass
class LocalCluster:
    """Start with ``start()``, stop with ``stop()`` (every process it started)."""

    data_dir: Path
    database_url: str  # every node's store (``ensure_database``)
    layout: Layout = field(default_factory=Layout)
    front_limits: bool = True  # False: no per-source limit at Kamailio (load tests)
    setup_ms: int = 15000  # Kamailio: a node silent after 100 Trying this long is dead
    pin_nodes: bool = False  # node i runs on CPU (i-1) mod the CPU count (benchmarks)
    node_flags: Sequence[str] = ()  # more `callplane serve` flags for every node
    env: dict[str, str] = field(default_factory=dict)  # e.g. CALLPLANE_AUTH_ID/TOKEN
    # what the nodes share to sign internal INVITEs (conferences spanning nodes)
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    nodes: list[Node] = field(default_factory=list)
    kamailio: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://{self.layout.host}:{self.layout.redis_port}/0"

    def start(self) -> LocalCluster:
        try:
            lay = self.layout
            if lay.redis_port:
                self.start_redis()
            for index in range(1, lay.nodes + 1):
                node = Node(
                    f"node-{index}",
                    lay.node_sip_port(index),
                    lay.node_http_port(index),
                    lay.node_rtp_ports(index),
                    self.data_dir / f"node-{index}",
                )
                self.nodes.append(node)
                self.start_node(node)
                if index == 1:  # the first one creates the schema and the main account
                    self.wait_ready(node)
            for node in self.nodes[1:]:
                self.wait_ready(node)
            self.start_kamailio()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, node: Node) -> None:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        node.log = open(node.log_path, "ab")  # noqa: SIM115 - closed in stop()
        lay = self.layout
        index = self.nodes.index(node)
        pin = ["taskset", "-c", str(index % (os.cpu_count() or 1))] if self.pin_nodes else []
        command = [
            *pin, sys.executable, "-m", "callplane", "--data-dir", str(node.data_dir), "serve",
            "--host", lay.host,
            "--sip-port", str(node.sip_port),
            "--http-port", str(node.http_port),
            "--rtp-ports", node.rtp_ports,
            "--database-url", self.database_url,
            "--pike-threshold", "0",
            "--auth-failures", "0",
            "--node-name", node.name,
            *(("--redis-url", self.redis_url) if lay.redis_port else ()),
            *self.node_flags,
        ]  # fmt: skip
        node.proc = subprocess.Popen(
            command,
            env={**os.environ, "CALLPLANE_CLUSTER_SECRET": self.secret, **self.env},
            stdout=node.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, node: Node) -> None:
        import httpx

        deadline = time.monotonic() + READY_SECONDS
        url = f"http://{self.layout.host}:{node.http_port}/"
        while time.monotonic() < deadline:
            assert node.proc is not None
            if node.proc.poll() is not None:
                raise ClusterError(f"{node.name} exited:\n{node.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=2)
                return
            time.sleep(0.1)
        raise ClusterError(f"{node.name} did not start:\n{node.log_path.read_text()[-3000:]}")

    def start_redis(self) -> None:
        """Redis in memory only (no snapshot, no log): a restart loses everything, which
        is what the nodes must survive."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ClusterError("redis-server is not installed (Debian package redis-server)")
        folder = self.data_dir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        self.redis = subprocess.Popen(
            [binary, "--port", str(self.layout.redis_port), "--bind", self.layout.host,
             "--save", "", "--appendonly", "no", "--dir", str(folder)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self._wait_tcp(self.layout.redis_port, self.redis, folder / "redis.log")

    def restart_redis(self) -> None:
        """Stop Redis and start it again, empty (tests: nodes re-publish)."""
        assert self.redis is not None
        self.redis.terminate()
        self.redis.wait(10)
        self.start_redis()

    def _wait_tcp(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.layout.host, port), 1),
            ):
                return
            time.sleep(0.05)
        raise ClusterError(f"nothing listens on TCP {port}:\n{log.read_text()[-3000:]}")

    def start_kamailio(self) -> None:
        lay = self.layout
        front = kamailio.Front(
            lay.host,
            lay.sip_port,
            [(lay.host, node.sip_port) for node in self.nodes],
            setup_ms=self.setup_ms,
            **({} if self.front_limits else {"pike_threshold": 0, "auth_failures": 0}),
        )
        folder = self.data_dir / "kamailio"
        config = kamailio.write_config(front, folder)
        log = open(folder / "kamailio.log", "ab")  # noqa: SIM115 - the child keeps it
        self.kamailio = subprocess.Popen(
            kamailio.command(config, folder / "run"), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_udp(lay.sip_port, self.kamailio, folder / "kamailio.log")

    @staticmethod
    def _wait_udp(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        wanted = f":{port:04X}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            table = Path("/proc/net/udp").read_text().splitlines()[1:]
            if any(line.split()[1].endswith(wanted) for line in table):
                return
            time.sleep(0.05)
        raise ClusterError(f"Kamailio did not listen on UDP {port}:\n{log.read_text()[-3000:]}")

    def kill_node(self, node: Node) -> None:
        """``kill -9``: the node stops without a word (node-loss tests)."""
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()

    def stop(self) -> None:
        """SIGTERM to Kamailio, SIGINT to every node (it ends its calls at once: SIGTERM
        would drain them, docs/operations.md), then SIGTERM to Redis (nodes remove their
        entries on the way out)."""
        nodes = [self.kamailio, *(n.proc for n in self.nodes)]
        for group in (nodes, [self.redis]):
            procs = [p for p in group if p is not None]
            for proc in procs:
                if proc.poll() is None:
                    is_node = proc is not self.kamailio and proc is not self.redis
                    proc.send_signal(signal.SIGINT if is_node else signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for node in self.nodes:
            if node.log is not None:
                node.log.close()

    def addresses(self) -> list[str]:
        """One line per listening address, for people."""
        host = self.layout.host
        lines = [f"SIP (Kamailio, udp+tcp)  {host}:{self.layout.sip_port}"]
        if self.layout.redis_port:
            lines.append(f"Redis {self.redis_url}")
        for node in self.nodes:
            lines.append(
                f"{node.name}: SIP {host}:{node.sip_port}, REST http://{host}:{node.http_port}/"
                f", RTP {node.rtp_ports}, log {node.log_path}"
            )
        lines.append(f"database {make_url(self.database_url).render_as_string()}")
        return lines
