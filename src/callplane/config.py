"""Settings of one Callplane process, fixed at start-up."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path


def default_node_name(sip_port: int) -> str:
    """``<hostname>-<sip port>``: unique per node even with several on one machine."""
    return f"{socket.gethostname()}-{sip_port}"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("callplane-data")
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    database_url: str = ""  # "" = SQLite in data_dir
    advertised_host: str = ""  # in Contact, SDP and Via; "" = guessed from sip_host
    answer_timeout: float = 5.0  # seconds, answer/action URL requests (Plivo's default)
    log_format: str = "text"  # "text" | "json"
    rtp_ports: str = "20000-30000"  # even RTP ports, RTCP on port+1
    trunk_only: bool = False  # inbound INVITEs only from trunks (docs/trunks.md)
    auth_failures: int = 10  # failed authentications from one IP that ban it; 0 = never
    auth_window: float = 60.0  # ... within this many seconds (docs/registrar.md)
    nonce_ttl: float = 30.0  # seconds a digest nonce stays usable (then stale=true)
    # Per-source request limit and bans (docs/security.md); threshold 0 disables the limit.
    pike_window: float = 2.0  # seconds
    pike_threshold: int = 200  # requests per source per window
    ban_seconds: float = 300.0
    # HTTP bounds (README "serve flags"): request bodies, connections, slow clients.
    max_body_bytes: int = 1 << 20  # larger REST bodies get 413 before they are read
    http_max_connections: int = 512  # more open at once are refused with 503
    http_header_timeout: float = 10.0  # seconds from a request's first byte to its last header
    http_body_timeout: float = 60.0  # seconds from the last header to the end of the body
    dns_servers: str = ""  # "ip[:port],..." for SIP host names; "" = /etc/resolv.conf
    sip_tcp_first_message_timeout: float = 10.0  # seconds from accept to a complete message
    sip_tcp_idle_timeout: float = 600.0  # seconds without a message or keep-alive
    sip_tcp_max_per_source: int = 32  # concurrent SIP/TCP connections from one IP
    sip_tcp_max_connections: int = 2048  # concurrent SIP/TCP connections in all
    # Operations (docs/operations.md): node name in logs and metrics, draining, /metrics.
    node_name: str = ""  # "" = default_node_name(sip_port)
    drain_timeout: float = 3600.0  # seconds live calls may run on after SIGTERM / node drain
    metrics_token: str = ""  # bearer token for GET /metrics; "" = loopback clients only
    redis_url: str = ""  # cluster live state (docs/cluster.md); "" = none, one process
    cluster_secret: str = ""  # signs internal INVITEs between nodes; "" = rooms per node
    # The call inspector (docs/api.md "Call inspector"): which calls keep a trace, for
    # how long, and how large one may grow.
    trace: str = "failed"  # "all" | "failed" | "off"
    trace_retention_days: float = 7.0
    trace_max_bytes: int = 512 * 1024

    @property
    def node(self) -> str:
        return self.node_name or default_node_name(self.sip_port)

    @property
    def public_http_url(self) -> str:
        return f"http://{self.public_host}:{self.http_port}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'callplane.db'}"

    @property
    def public_host(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        return "127.0.0.1" if self.sip_host in ("0.0.0.0", "::", "") else self.sip_host
