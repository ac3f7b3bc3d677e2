"""What storing a kept call trace costs (issue 16), measured on its own: the record
writer's batches (`Store.write_records`) of ended call records alone, then with a
trace row per call, on one SQLite file (or ``--database`` PostgreSQL). Reported:
this process's CPU time per call (user + system: aiosqlite's thread counts too).

Run: .venv/bin/python bench/trace_rows.py --calls 2000 --batch 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from callplane.store.models import CallRecord, StoredTrace  # noqa: E402
from callplane.store.store import Store  # noqa: E402
from callplane.store.traces import TraceBatch  # noqa: E402

BODY = '{"call_uuid":"x","sip":[' + ",".join(['{"text":"' + "x" * 600 + '"}'] * 4) + "]}"


def record(auth_id: str, call_uuid: str) -> CallRecord:
    now = datetime.now(UTC)
    return CallRecord(
        call_uuid,
        auth_id,
        "15550001111",
        "15550002222",
        call_status="busy",
        state="ended",
        hangup_cause_name="Busy Line",
        hangup_cause_code=3000,
        hangup_source="Answer XML",
        sip_response_code=486,
        initiation_time=now,
        end_time=now,
        events=[{"time": now.isoformat(), "level": "info", "message": "refused 486"}],
    )


async def run(url: str, calls: int, batch: int, traced: bool) -> float:
    store = await Store.open(url)
    try:
        account, _ = await store.ensure_main_account()
        cpu = 0.0
        for _ in range(calls // batch):
            records = [record(account.auth_id, uuid.uuid4().hex) for _ in range(batch)]
            traces = TraceBatch(
                [
                    StoredTrace(r.call_uuid, r.auth_id, datetime.now(UTC), "all", False, BODY)
                    for r in records
                ]
                if traced
                else ()
            )
            before = time.process_time()
            await store.write_records(records, None, traces)
            cpu += time.process_time() - before
        return 1e6 * cpu / calls
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for traced in (False, True):
                url = args.database or f"sqlite+aiosqlite:///{tmp}/db{n}{traced:d}.sqlite"
                spent = asyncio.run(run(url, args.calls, args.batch, traced))
                what = "records + traces" if traced else "records only    "
                print(f"round {n + 1}: {what} {spent:6.1f} µs CPU per call", flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
