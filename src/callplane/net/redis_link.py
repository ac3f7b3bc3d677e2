"""The connection to Redis for cluster live state (``control/cluster_state.py``).

Short timeouts: Redis is on the local network, and a call must never wait long on
it. ``redis`` is the ``cluster`` extra: only a node started with ``--redis-url``
imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

TIMEOUT = 1.0  # seconds to connect, and for one command


def connect(url: str) -> Redis:
    from redis.asyncio import Redis

    return Redis.from_url(
        url,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        decode_responses=True,
        health_check_interval=5,
    )
