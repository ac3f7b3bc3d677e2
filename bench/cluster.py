"""Refused calls/s through Kamailio: one node, two nodes, and Kamailio alone, in one run.

Each setup is a local cluster (``callplane.cluster.local``: Kamailio, PostgreSQL,
N nodes without Redis; refusals do not touch it), each node pinned to its own CPU
(``taskset``), Kamailio and SIPp unpinned. Calls go to a number the blocklist
refuses (603, one call record each). "kamailio" is Kamailio with no node in its
dispatcher list, answering every INVITE itself (503): the ceiling of the front.
For each rate, SIPp places rate*seconds calls; a rate is sustained with zero failed
calls, the offered rate reached (3 %) and INVITE->final p99 under 500 ms.

Needs PostgreSQL (`--postgres-url`, default the role `.ci/run` creates), kamailio
and sipp. Run: .venv/bin/python bench/cluster.py --rates 500,1000,1500 --seconds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, free_ports  # noqa: E402

from bench.sip_reject import BLOCKED_NUMBER, Run, sipp_run  # noqa: E402
from callplane.cluster import kamailio  # noqa: E402
from callplane.cluster.local import (  # noqa: E402
    DEFAULT_ADMIN_URL,
    Layout,
    LocalCluster,
    drop_database,
    ensure_database,
)


def configure(cluster: LocalCluster) -> None:
    """BLOCKED_NUMBER refused by the blocklist (603), no per-second cap on the account."""
    base = f"http://127.0.0.1:{cluster.nodes[0].http_port}/v1/Account/{AUTH_ID}/"

    def call(method: str, path: str, body: dict[str, object]) -> dict[str, str]:
        response = httpx.request(method, base + path, json=body, auth=(AUTH_ID, AUTH_TOKEN))
        response.raise_for_status()
        return response.json() if response.content else {}

    app = call("POST", "Application/", {"app_name": "bench", "answer_url": "http://127.0.0.1:9/"})
    call("POST", "Number/", {"numbers": BLOCKED_NUMBER, "app_id": app["app_id"]})
    call("POST", "", {"inbound_cps": 100000})
    rule = {"match": "prefix", "pattern": "1", "reason": "rejected", "number": BLOCKED_NUMBER}
    call("POST", "Blocklist/", rule)


def sweep_nodes(
    tmp: Path, admin_url: str, nodes: int, rates: list[int], seconds: float
) -> list[Run]:
    """A fresh database and cluster of ``nodes`` nodes, then the rates."""
    name = f"cp_bench_{uuid.uuid4().hex[:8]}"
    try:
        return _sweep_nodes(tmp, ensure_database(admin_url, name), nodes, rates, seconds)
    finally:
        drop_database(admin_url, name)


def _sweep_nodes(tmp: Path, url: str, nodes: int, rates: list[int], seconds: float) -> list[Run]:
    sip = free_ports(nodes + 1)
    layout = Layout("127.0.0.1", sip, nodes, free_ports(nodes), 40000, redis_port=0)
    env = {"CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN}
    cluster = LocalCluster(
        tmp / f"nodes-{nodes}", url, layout, front_limits=False, env=env, pin_nodes=True,
        node_flags=("--log-level", "WARNING"),
    )  # fmt: skip
    cluster.start()
    try:
        configure(cluster)
        return sweep(tmp, sip, 603, rates, seconds, f"{nodes} node(s)")
    finally:
        cluster.stop()


def sweep_kamailio(tmp: Path, rates: list[int], seconds: float) -> list[Run]:
    port = free_ports(1)
    folder = tmp / "kamailio-alone"
    config = kamailio.write_config(kamailio.Front("127.0.0.1", port, [], pike_threshold=0), folder)
    log = open(folder / "kamailio.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(kamailio.command(config, folder / "run"), stdout=log, stderr=log)
    try:
        LocalCluster._wait_udp(port, proc, folder / "kamailio.log")
        return sweep(tmp, port, 503, rates, seconds, "kamailio")
    finally:
        proc.terminate()
        proc.wait()
        log.close()


def sweep(
    tmp: Path, port: int, final: int, rates: list[int], seconds: float, mode: str
) -> list[Run]:
    runs = []
    for rate in rates:
        run = sipp_run(tmp, port, BLOCKED_NUMBER, final, rate, seconds, mode)
        runs.append(run)
        print(run.row(), flush=True)
        if not run.sustained:
            break
    return runs


def best(runs: list[Run], mode: str) -> float:
    return max((r.achieved for r in runs if r.mode == mode and r.sustained), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="250,500,1000,1500,2000,2500,3000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        runs += sweep_kamailio(tmp, rates, args.seconds)
        for nodes in (1, 2):
            runs += sweep_nodes(tmp, args.postgres_url, nodes, rates, args.seconds)
    print(f"\n{os.cpu_count()} CPUs; nodes pinned one per CPU, Kamailio and SIPp unpinned")
    print("| setup | offered calls/s | calls | failed | achieved calls/s | INVITE->100 p50 ms "
          "| p99 ms | INVITE->final p50 ms | p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())
    one, two, alone = best(runs, "1 node(s)"), best(runs, "2 node(s)"), best(runs, "kamailio")
    print(
        f"highest sustained: 1 node {one:.0f}/s, 2 nodes {two:.0f}/s, Kamailio alone {alone:.0f}/s"
    )
    if one:
        print(f"2 nodes / 1 node: {two / one:.2f}")


if __name__ == "__main__":
    main()
