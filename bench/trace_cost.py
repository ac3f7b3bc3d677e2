"""What the call inspector's capture costs (issue 16): `bench/sip_reject.py`'s webhook
and blocklist modes with `--trace off`, `failed` and `all`, in one run.

For each round, each (mode, trace) pair gets a fresh `callplane serve` and one SIPp
run of ``rate * seconds`` calls; the pairs are alternated round after round, so
that the machine's changing load falls on all of them alike. Reported per pair:
the median achieved calls/s, and the median server CPU time per call (user +
system, from /proc: less sensitive to other processes than throughput). Ratios
are against `off`, and the traces each run kept are counted in the server's
database. Every call in those modes is refused on purpose (486 by the document,
603 by a block rule): not *failed*, so `failed` captures in memory and keeps
nothing, and `all` stores a trace per call. A third mode, `answered`, has calls
that end well (a TwiML application answers with 200 and hangs up with BYE).

Run: .venv/bin/python bench/trace_cost.py --rate 800 --seconds 3 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.sip_reject import (  # noqa: E402
    BLOCKED_NUMBER,
    SCENARIO,
    WEBHOOK_NUMBER,
    configured_server,
    sipp_run,
    start_nginx,
)
from callplane.calls.tracer import LINGER  # noqa: E402

TRACES = ("off", "failed", "all")
ANSWERED_NUMBER = "15550004000"
MODES = {
    "webhook": (WEBHOOK_NUMBER, 486),
    "blocklist": (BLOCKED_NUMBER, 603),
    "answered": (ANSWERED_NUMBER, 200),
}
ANSWERED = Path(__file__).parent / "scenarios" / "uac_answered_bye_rtd.xml"


@dataclass
class Pair:
    mode: str
    trace: str
    achieved: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # server CPU per call
    failed: int = 0
    kept: int = 0  # traces stored


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(tmp: Path, http_port: int, pair: Pair, rate: int, seconds: float) -> None:
    number, final = MODES[pair.mode]
    server = configured_server(tmp, http_port, extra=("--trace", pair.trace))
    template = ANSWERED if pair.mode == "answered" else SCENARIO
    try:
        app = server.application(f"http://127.0.0.1:{http_port}/answered", dialect="twiml")
        server.number(ANSWERED_NUMBER, app)
        before = cpu_seconds(server.proc.pid)
        run = sipp_run(tmp, server.sip_port, number, final, rate, seconds, pair.mode, template)
        time.sleep(LINGER + 0.5)  # the last calls' traces are kept after LINGER, then written
        spent = cpu_seconds(server.proc.pid) - before
    finally:
        server.stop()
    with sqlite3.connect(server.data_dir / "callplane.db") as db:
        kept = db.execute("SELECT count(*) FROM call_traces").fetchone()[0]
    pair.kept += kept
    pair.achieved.append(run.achieved)
    pair.cpu_ms.append(1000 * spent / max(run.calls - run.failed, 1))
    pair.failed += run.failed
    print(
        f"{pair.mode:9} trace={pair.trace:6} achieved {run.achieved:7.1f} calls/s, "
        f"{pair.cpu_ms[-1]:.3f} ms CPU/call, failed {run.failed}, kept {kept} traces",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=800)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="webhook,blocklist,answered")
    args = parser.parse_args()
    pairs = [Pair(mode, trace) for mode in args.modes.split(",") for trace in TRACES]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        nginx, http_port = start_nginx(tmp)
        try:
            for _ in range(args.rounds):
                for pair in pairs:
                    measure(tmp, http_port, pair, args.rate, args.seconds)
        finally:
            nginx.terminate()
    print_summary(pairs, args.rate)


def print_summary(pairs: list[Pair], rate: int) -> None:
    print(
        "\n| mode | --trace | offered calls/s | achieved calls/s (median) | ratio | "
        "server CPU ms/call (median) | ratio | failed calls | traces kept |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    base = {p.mode: p for p in pairs if p.trace == "off"}
    for pair in pairs:
        achieved, cpu = statistics.median(pair.achieved), statistics.median(pair.cpu_ms)
        off = base[pair.mode]
        achieved_ratio = achieved / statistics.median(off.achieved)
        cpu_ratio = cpu / statistics.median(off.cpu_ms)
        print(
            f"| {pair.mode} | {pair.trace} | {rate} | {achieved:.0f} | {achieved_ratio:.2f} | "
            f"{cpu:.3f} | {cpu_ratio:.2f} | {pair.failed} | {pair.kept} |"
        )


if __name__ == "__main__":
    main()
