"""``callplane cluster up``: a local cluster (Kamailio, PostgreSQL, N nodes) in the
foreground; Ctrl-C stops it all (docs/cluster.md)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click


@click.group()
def cluster() -> None:
    """Several Callplane nodes behind Kamailio on this machine (development, tests)."""


@cluster.command()
@click.option(
    "--nodes",
    type=click.IntRange(min=1, max=32),
    default=2,
    show_default=True,
    help="How many `callplane serve` nodes.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of every part.")
@click.option(
    "--sip-port",
    default=5060,
    show_default=True,
    help="Kamailio's SIP port (udp+tcp); node i listens on this + i.",
)
@click.option(
    "--http-port", default=8080, show_default=True, help="Node 1's REST port; node i's is + i-1."
)
@click.option(
    "--rtp-base", default=20000, show_default=True, help="Node i takes 2000 RTP ports from here."
)
@click.option(
    "--redis-port", default=6390, show_default=True, help="Redis for live state; 0: none."
)
@click.option(
    "--postgres-url",
    default="postgresql+asyncpg://callplane:callplane@127.0.0.1/postgres",
    show_default=True,
    help="A PostgreSQL server and a role that may create databases.",
)
@click.option(
    "--database", default="callplane_cluster", show_default=True, help="Created if missing."
)
@click.option(
    "--no-edge-limits",
    is_flag=True,
    help="No per-source limit or ban at Kamailio (load tests from one address).",
)
@click.pass_context
def up(
    ctx: click.Context,
    nodes: int,
    host: str,
    sip_port: int,
    http_port: int,
    rtp_base: int,
    redis_port: int,
    postgres_url: str,
    database: str,
    no_edge_limits: bool,
) -> None:
    """Start Redis, Kamailio and NODES `callplane serve` nodes sharing one PostgreSQL
    database; print every address; run until Ctrl-C (or SIGTERM), then stop them all."""
    from callplane.cluster.local import ClusterError, Layout, LocalCluster, ensure_database

    data_dir: Path = ctx.find_root().obj["data_dir"] / "cluster"
    try:
        url = ensure_database(postgres_url, database)
        running = LocalCluster(
            data_dir,
            url,
            Layout(host, sip_port, nodes, http_port, rtp_base, redis_port),
            front_limits=not no_edge_limits,
        ).start()
    except (ClusterError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in running.addresses():
        click.echo(line)
    click.echo(f"credentials: {data_dir / 'node-1' / 'credentials.json'}; Ctrl-C stops")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping the cluster")
        running.stop()
