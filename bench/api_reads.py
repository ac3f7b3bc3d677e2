"""REST read benchmark: GET /Call/{uuid}/ and GET /Call/?limit=20 over 100,000 records.

Fills a SQLite store through ``Store.write_records``, starts one ``callplane serve``
on it (as a user would, from its data directory), and drives it with ``wrk``
(Debian package ``wrk``; a Lua script adds Basic auth and picks a random call uuid
per request). Prints requests/s and p50/p99 latency per endpoint; the goal is
>= 2,000 req/s with p99 < 20 ms. Run it on a quiet machine: on two cores, wrk and
the server share them.

    .venv/bin/python bench/api_reads.py [--records 100000] [--duration 10] [--runs 3]
        [--connections 16] [--calls-per-second 0]

With ``--calls-per-second N`` SIPp also places N calls/s that the blocklist
refuses while each measurement runs, so call records are written meanwhile (each
batch clears the cached counts).

Also prints SQLite's plan for the list query, which must walk an index, not sort.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, LAB, CallplaneServer  # noqa: E402

from bench.sip_reject import BLOCKED_NUMBER, SCENARIO, block_calls  # noqa: E402
from callplane.store import Store  # noqa: E402
from callplane.store.models import Account, CallRecord  # noqa: E402

BATCH = 5000
PACED = 4
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
local pause = %(delay_ms)d
if pause > 0 then
  delay = function() return pause end
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
    account, _ = await store.ensure_main_account(AUTH_ID, AUTH_TOKEN)
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


def run_wrk(script: Path, port: int, duration: float, connections: int) -> dict[str, float]:
    return parse_wrk(start_wrk(script, port, duration, connections).communicate()[0])


def start_wrk(script: Path, port: int, duration: float, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


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
    parser.add_argument("--runs", type=int, default=1, help="measurements per endpoint")
    parser.add_argument(
        "--calls-per-second",
        type=int,
        default=0,
        help="also refuse this many SIPp calls/s while measuring, so records are written",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        db = data / "callplane.db"  # where `callplane serve` looks by default
        account, ids = asyncio.run(fill(db, args.records))
        print(f"list query plan: {explain(db, account.auth_id)}")
        (Path(tmp) / "ids.txt").write_text("\n".join(ids) + "\n")
        server = CallplaneServer(data, extra=("--log-level", "WARNING", *LAB)).start()
        results: list[tuple[str, dict[str, float]]] = []
        try:
            block_calls(server, server.application("http://127.0.0.1:9/unused"))
            for mode, label in (("get", "GET /Call/{uuid}/"), ("list", "GET /Call/?limit=20")):
                script = Path(tmp) / f"{mode}.lua"
                script.write_text(_lua(tmp, account, mode))
                run_wrk(script, server.http_port, 2, args.connections)  # warm-up
                for _ in range(args.runs):
                    calls = refused_calls(Path(tmp), server, args.calls_per_second, args.duration)
                    wrk = run_wrk(script, server.http_port, args.duration, args.connections)
                    if calls is not None:
                        calls.wait(args.duration + 30)
                    results.append((label, wrk))
            total = server.api("GET", "Call/?limit=1")["meta"]["total_count"]
            print(f"call records at the end: {total}")
        finally:
            server.stop()
    print(json.dumps(results, indent=2))
    for label, r in results:
        verdict = "ok" if r["rps"] >= 2000 and r["p99_ms"] < 20 else "BELOW GOAL"
        print(
            f"{label:24} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  non-2xx {int(r['non_2xx'])}  {verdict}"
        )


def refused_calls(
    tmp: Path, server: CallplaneServer, rate: int, seconds: float
) -> subprocess.Popen[bytes] | None:
    """SIPp placing ``rate`` calls/s to BLOCKED_NUMBER for about ``seconds`` (0: none)."""
    if not rate:
        return None
    scenario = tmp / "refused.xml"
    scenario.write_text(SCENARIO.read_text().replace("FINAL_CODE", "603"))
    calls = str(int(rate * seconds))
    cmd = ["sipp", "-sf", str(scenario), "-s", BLOCKED_NUMBER, "-i", "127.0.0.1", "-nostdin"]
    cmd += ["-r", str(rate), "-m", calls, "-l", "1000", f"127.0.0.1:{server.sip_port}"]
    return subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _lua(tmp: str, account: Account, mode: str, delay_ms: int = 0) -> str:
    """wrk's script: ``get`` or ``list`` requests, each connection pausing ``delay_ms``
    between them (0: as fast as the server answers)."""
    basic = base64.b64encode(f"{account.auth_id}:{account.auth_token}".encode()).decode()
    base = f"/v1/Account/{account.auth_id}"
    values = {"ids": f"{tmp}/ids.txt", "base": base, "mode": mode, "basic": basic}
    return LUA % {**values, "delay_ms": delay_ms}


def paced_list_script(tmp: Path, account: Account, ids: list[str], rate: int) -> Path:
    """A wrk script for ``GET /Call/?limit=20`` at about ``rate`` req/s over
    ``PACED`` connections."""
    (tmp / "ids.txt").write_text("\n".join(ids) + "\n")
    script = tmp / "paced-list.lua"
    script.write_text(_lua(str(tmp), account, "list", PACED * 1000 // rate))
    return script


if __name__ == "__main__":
    main()
