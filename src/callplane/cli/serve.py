"""``callplane serve``: run the server (its flags become config.Settings)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


@click.command()
@click.option("--sip-port", default=5060, show_default=True, help="SIP port (UDP and TCP).")
@click.option("--http-port", default=8080, show_default=True, help="REST API port.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--advertised-host", default="", help="Address for Contact/SDP/Via (default: --host)."
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the database and credentials live (the same as `callplane --data-dir`; "
    "given here it wins).  [default: callplane-data]",
)
@click.option("--database-url", default="", help="SQLAlchemy URL (default: SQLite in data dir).")
@click.option(
    "--answer-timeout", default=5.0, show_default=True, help="Seconds to wait for an answer URL."
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--rtp-ports",
    default="20000-30000",
    show_default=True,
    help="UDP port range for call audio (RTP on even ports, RTCP on the next).",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--trunk-only",
    is_flag=True,
    help="Take inbound calls only from trunks (ACL or digest); others get 403.",
)
@click.option(
    "--pike-window",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Seconds per source window.",
)
@click.option(
    "--pike-threshold",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="SIP requests per source per window before the source is dropped and banned; "
    "trunks and registered endpoints are exempt; 0 disables (lab benchmarks).",
)
@click.option(
    "--ban-seconds",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="How long a source over the limit (or failing to log in) is dropped; "
    "0: only its requests over it.",
)
@click.option(
    "--auth-failures",
    default=10,
    show_default=True,
    help="Failed logins (SIP digest, REST) from one IP that ban it; 0: never.",
)
@click.option(
    "--auth-window",
    default=60.0,
    show_default=True,
    help="Seconds within which --auth-failures count.",
)
@click.option(
    "--nonce-ttl", default=30.0, show_default=True, help="Seconds a SIP digest nonce stays usable."
)
@click.option("--dns-server", default="", help="ip[:port],... for SIP names (else resolv.conf).")
@click.option("--sip-tcp-timeout", default=10.0, help="Seconds a TCP client has to send a message.")
@click.option("--sip-tcp-idle-timeout", default=600.0, help="Seconds an idle SIP/TCP link lives.")
@click.option("--sip-tcp-max-per-ip", default=32, help="SIP/TCP connections from one IP address.")
@click.option("--sip-tcp-max", default=2048, help="SIP/TCP connections in all.")
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    help="Largest REST request body; larger ones get 413.  [default: 1048576]",
)
@click.option(
    "--http-max-connections",
    type=click.IntRange(min=1),
    help="Open HTTP connections at most; more are refused with 503.  [default: 512]",
)
@click.option(
    "--http-header-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client may take to send a request's headers.  [default: 10]",
)
@click.option(
    "--http-body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client may take to send a request's body.  [default: 60]",
)
@click.option(
    "--node-name",
    default="",
    help="This node's name in JSON logs and /Node/; in a cluster (unique per node) also "
    "its call records' and Redis lease's.  [default: <hostname>-<sip port>, records: none]",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Seconds live calls may go on after SIGTERM or `callplane node drain`; "
    "then they are hung up (cause Node Drained) and the process exits.",
)
@click.option(
    "--metrics-token",
    envvar="CALLPLANE_METRICS_TOKEN",
    default="",
    help="Bearer token GET /metrics asks for (env CALLPLANE_METRICS_TOKEN); "
    "without one, /metrics answers loopback clients only.",
)
@click.option(
    "--trace",
    type=click.Choice(["all", "failed", "off"]),
    default="failed",
    show_default=True,
    help="Call inspector: keep every call's SIP/webhook/verb/RTP trace, only failed "
    "calls' traces (something went wrong; a deliberate refusal is not a failure), or "
    "capture nothing.",
)
@click.option(
    "--trace-retention-days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="Days traces and Debugger events are kept.",
)
@click.option(
    "--trace-max-bytes",
    type=click.IntRange(min=1024),
    default=512 * 1024,
    show_default=True,
    help="Largest trace of one call; later events are dropped (truncated: true).",
)
@click.option(
    "--redis-url",
    default="",
    help="Cluster live state (redis://host:port/db): live calls listed and controlled "
    "through any node, a lost node's calls closed by a survivor. Default: none.",
)
@click.option(
    "--cluster-secret",
    envvar="CALLPLANE_CLUSTER_SECRET",
    default="",
    show_envvar=True,
    help="Secret every cluster node shares (with --redis-url): signs the internal "
    "INVITEs that join a conference member to the room another node owns. Default: "
    "none, rooms are per node.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    sip_port: int,
    http_port: int,
    host: str,
    advertised_host: str,
    data_dir: Path | None,
    database_url: str,
    answer_timeout: float,
    log_format: str,
    rtp_ports: str,
    log_level: str,
    trunk_only: bool,
    pike_window: float,
    pike_threshold: int,
    ban_seconds: float,
    auth_failures: int,
    auth_window: float,
    nonce_ttl: float,
    dns_server: str,
    sip_tcp_timeout: float,
    sip_tcp_idle_timeout: float,
    sip_tcp_max_per_ip: int,
    sip_tcp_max: int,
    max_body_bytes: int | None,
    http_max_connections: int | None,
    http_header_timeout: float | None,
    http_body_timeout: float | None,
    node_name: str,
    drain_timeout: float,
    metrics_token: str,
    trace: str,
    trace_retention_days: float,
    trace_max_bytes: int,
    redis_url: str,
    cluster_secret: str,
) -> None:
    """Run Callplane: SIP on --sip-port, the REST API on --http-port.

    SIGTERM drains (new calls get 503, live ones go on up to --drain-timeout), a
    second SIGTERM or SIGINT stops at once."""
    from callplane.config import Settings, default_node_name
    from callplane.logs import setup_logging
    from callplane.net.resolver import parse_nameservers
    from callplane.server import run_server

    if redis_url and not node_name:
        raise click.BadParameter("a cluster node needs --node-name", param_hint="--redis-url")
    setup_logging(log_format, log_level, node_name or default_node_name(sip_port))
    try:
        parse_nameservers(dns_server)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dns-server") from exc
    http_bounds: dict[str, Any] = {  # not given: Settings' defaults
        "max_body_bytes": max_body_bytes,
        "http_max_connections": http_max_connections,
        "http_header_timeout": http_header_timeout,
        "http_body_timeout": http_body_timeout,
    }
    settings = Settings(
        data_dir=data_dir or ctx.find_root().obj["data_dir"],
        sip_host=host,
        sip_port=sip_port,
        http_host=host,
        http_port=http_port,
        database_url=database_url,
        advertised_host=advertised_host,
        answer_timeout=answer_timeout,
        log_format=log_format,
        rtp_ports=rtp_ports,
        trunk_only=trunk_only,
        pike_window=pike_window,
        pike_threshold=pike_threshold,
        ban_seconds=ban_seconds,
        auth_failures=auth_failures,
        auth_window=auth_window,
        nonce_ttl=nonce_ttl,
        dns_servers=dns_server,
        sip_tcp_first_message_timeout=sip_tcp_timeout,
        sip_tcp_idle_timeout=sip_tcp_idle_timeout,
        sip_tcp_max_per_source=sip_tcp_max_per_ip,
        sip_tcp_max_connections=sip_tcp_max,
        node_name=node_name,
        drain_timeout=drain_timeout,
        metrics_token=metrics_token,
        trace=trace,
        trace_retention_days=trace_retention_days,
        trace_max_bytes=trace_max_bytes,
        redis_url=redis_url,
        cluster_secret=cluster_secret,
        **{name: value for name, value in http_bounds.items() if value is not None},
    )
    sys.exit(run_server(settings))
