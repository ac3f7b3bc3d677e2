"""Added latency of asking any node about a live call another node runs.

A local cluster of two nodes (``callplane.cluster.local``: Kamailio, PostgreSQL,
Redis); one answered call held up by SIPp through Kamailio; then ``--requests``
``GET /Call/{uuid}/?status=live`` to the owner and as many to the other node, which
forwards them (one Redis read, one HTTP request on loopback), one at a time,
alternating. Prints p50/p99 of both and the difference.

Needs PostgreSQL (`--postgres-url`), kamailio, redis-server and sipp.
Run: .venv/bin/python bench/cluster_forward.py --requests 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import (  # noqa: E402
    AUTH_ID,
    AUTH_TOKEN,
    WebhookServer,
    free_ports,
    sipp_start,
)

from callplane.cluster.local import (  # noqa: E402
    DEFAULT_ADMIN_URL,
    Layout,
    LocalCluster,
    drop_database,
    ensure_database,
)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    name = f"cp_bench_{uuid.uuid4().hex[:8]}"
    url = ensure_database(args.postgres_url, name)
    web = WebhookServer().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            measure(Path(folder), url, web, args.requests)
    finally:
        web.stop()
        drop_database(args.postgres_url, name)


def measure(tmp: Path, url: str, web: WebhookServer, requests: int) -> None:
    layout = Layout("127.0.0.1", free_ports(3), 2, free_ports(2), 40000, free_ports(1))
    env = {"CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN}
    cluster = LocalCluster(tmp, url, layout, env=env, node_flags=("--log-level", "WARNING"))
    cluster.start()
    caller = None
    try:
        bases = [f"http://127.0.0.1:{n.http_port}/v1/Account/{AUTH_ID}/" for n in cluster.nodes]
        client = httpx.Client(auth=(AUTH_ID, AUTH_TOKEN), timeout=10)
        answer = web.set("/hold", '<Response><Wait length="120"/></Response>')
        app = client.post(bases[0] + "Application/", json={"app_name": "b", "answer_url": answer})
        number = {"numbers": "15550009999", "app_id": app.json()["app_id"]}
        client.post(bases[0] + "Number/", json=number).raise_for_status()
        client.post(bases[1] + f"Application/{number['app_id']}/", json={"answer_url": answer})
        caller = sipp_start(
            tmp, "uac_answer_bye.xml", layout.sip_port, timeout=200, to="15550009999"
        )
        state = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
        deadline = time.monotonic() + 20
        owners: dict[str, str] = {}
        while not owners and time.monotonic() < deadline:
            owners = state.hgetall("callplane:owner")  # type: ignore[assignment]
            time.sleep(0.05)
        (call_uuid, owner), *_ = owners.items()
        own = 0 if owner == "node-1" else 1
        path = f"Call/{call_uuid}/?status=live"
        timings: dict[str, list[float]] = {"owner": [], "forwarded": []}
        for _ in range(requests):
            for label, node in (("owner", own), ("forwarded", 1 - own)):
                started = time.perf_counter()
                client.get(bases[node] + path).raise_for_status()
                timings[label].append((time.perf_counter() - started) * 1000)
        p50 = {k: statistics.median(v) for k, v in timings.items()}
        p99 = {k: percentile(v, 99) for k, v in timings.items()}
        print(f"{requests} requests each, one at a time")
        for label in timings:
            print(f"{label}: p50 {p50[label]:.2f} ms, p99 {p99[label]:.2f} ms")
        added = p99["forwarded"] - p99["owner"]
        print(
            f"added by forwarding: p50 {p50['forwarded'] - p50['owner']:.2f} ms, p99 {added:.2f} ms"
        )
    finally:
        if caller is not None:
            caller.kill()
        cluster.stop()


if __name__ == "__main__":
    main()
