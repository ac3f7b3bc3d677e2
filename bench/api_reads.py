"""REST read benchmark: GET /Call/{uuid}/ and GET /Call/?limit=20 over 100,000 records.

Fills a SQLite store through ``Store.write_records``, starts ``uvicorn`` with the app
in a subprocess, and drives it with ``wrk`` (Debian package ``wrk``; a Lua script
adds Basic auth and picks a random call uuid per request). Prints requests/s and
p50/p99 latency per endpoint; the goal is >= 2,000 req/s with p99 < 20 ms.

    .venv/bin/python bench/api_reads.py [--records 100000] [--duration 10] [--workers 1]

Also prints SQLite's plan for the list query, which must walk an index, not sort.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from callplane.store import Store
from callplane.store.models import Account, CallRecord

BATCH = 5000
START = datetime(2025, 1, 1, tzinfo=UTC)
LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local base = "%(base)s"
local mode = "%(mode)s"
wrk.headers["Authorization"] = "Basic %(basic)s"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  if mode == "get" then
    return wrk.format("GET", base .. "/Call/" .. ids[math.random(#ids)] .. "/")
  end
  return wrk.format("GET", base .. "/Call/?limit=20")
end
"""


def _record(account: Account, n: int) -> CallRecord:
    started = START + timedelta(seconds=n * 7)
    return CallRecord(
        call_uuid=str(uuid.UUID(int=random.getrandbits(128), version=4)),
        auth_id=account.auth_id,
        from_number=f"49301{n % 100000:05d}",
        to_number="14155550100",
        call_status="completed",
        state="ended",
        hangup_cause_name="Normal Hangup",
        hangup_cause_code=4000,
        hangup_source="Caller",
        initiation_time=started,
        answer_time=started + timedelta(seconds=3),
        end_time=started + timedelta(seconds=63),
        call_duration=63,
        bill_duration=60,
        billed_duration=60,
        total_amount="0.01000",
        events=[{"time": started.isoformat(), "level": "info", "message": "answered"}],
    )


async def fill(db: Path, count: int) -> tuple[Account, list[str]]:
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    account, _ = await store.ensure_main_account()
    ids: list[str] = []
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        batch = [_record(account, n) for n in range(first, min(first + BATCH, count))]
        await store.write_records(batch)
        ids += [r.call_uuid for r in batch]
    print(f"wrote {count} records in {time.perf_counter() - started:.1f} s")
    await store.close()
    return account, ids


def explain(db: Path, auth_id: str) -> str:
    engine = sa.create_engine(f"sqlite:///{db}")
    query = (
        "EXPLAIN QUERY PLAN SELECT * FROM call_records WHERE auth_id = :a "
        "ORDER BY initiation_time DESC, call_uuid DESC LIMIT 20"
    )
    with engine.connect() as conn:
        plan = [row[-1] for row in conn.execute(sa.text(query), {"a": auth_id})]
    engine.dispose()
    return "; ".join(plan)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CALLPLANE_BENCH_DB": str(db)}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.api_reads:make_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


def make_app() -> object:
    """uvicorn factory: the API over the benchmark database (store opened on first request)."""
    from starlette.types import Receive, Scope, Send

    from callplane.api import create_app

    state: dict[str, object] = {}
    lock = asyncio.Lock()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if "app" not in state:
            async with lock:
                if "app" not in state:
                    store = await Store.open(
                        f"sqlite+aiosqlite:///{os.environ['CALLPLANE_BENCH_DB']}"
                    )
                    state["app"] = create_app(store)
        inner = state["app"]
        await inner(scope, receive, send)  # type: ignore[operator]

    return app


def run_wrk(script: Path, port: int, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_wrk(out)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: _ms(v, u) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        account, ids = asyncio.run(fill(db, args.records))
        print(f"list query plan: {explain(db, account.auth_id)}")
        (Path(tmp) / "ids.txt").write_text("\n".join(ids) + "\n")
        port = free_port()
        server = start_server(db, port, args.workers)
        try:
            results = {}
            for mode, label in (("get", "GET /Call/{uuid}/"), ("list", "GET /Call/?limit=20")):
                script = Path(tmp) / f"{mode}.lua"
                script.write_text(_lua(tmp, account, mode))
                run_wrk(script, port, 2, args.connections)  # warm-up
                results[label] = run_wrk(script, port, args.duration, args.connections)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps(results, indent=2))
    for label, r in results.items():
        verdict = "ok" if r["rps"] >= 2000 and r["p99_ms"] < 20 else "BELOW GOAL"
        print(
            f"{label:24} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  non-2xx {int(r['non_2xx'])}  {verdict}"
        )


def _lua(tmp: str, account: Account, mode: str) -> str:
    import base64

    basic = base64.b64encode(f"{account.auth_id}:{account.auth_token}".encode()).decode()
    base = f"/v1/Account/{account.auth_id}"
    return LUA % {"ids": f"{tmp}/ids.txt", "base": base, "mode": mode, "basic": basic}


if __name__ == "__main__":
    main()
