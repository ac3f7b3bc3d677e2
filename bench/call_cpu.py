"""CPU time `callplane serve` spends per call: much less load-sensitive than calls/s.

Starts a fresh server (as `bench/sip_reject.py` does), lets it settle, measures its
idle CPU rate, then has SIPp place --calls calls at a modest --rate and reads the
server's user+system CPU time (/proc/<pid>/stat) before and after (waiting
--settle seconds after the last call so record writes and callbacks are counted).
The idle rate times the elapsed time is subtracted. With --profile FILE.svg,
py-spy records a flame graph of the server during the calls.

Run: .venv/bin/python bench/call_cpu.py --mode blocklist --calls 6000 --rate 300 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.sip_reject import (  # noqa: E402
    BLOCKED_NUMBER,
    WEBHOOK_NUMBER,
    configured_server,
    sipp_run,
    start_nginx,
)

TICKS = os.sysconf("SC_CLK_TCK")
MODES = {"webhook": (WEBHOOK_NUMBER, 486), "blocklist": (BLOCKED_NUMBER, 603)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(
    tmp: Path,
    http_port: int,
    mode: str,
    calls: int,
    rate: int,
    settle: float,
    profile: str,
    serve_flags: tuple[str, ...] = (),
) -> float:
    """CPU-µs per call on one fresh server."""
    server = configured_server(tmp, http_port, hangup=mode == "webhook", extra=serve_flags)
    number, final = MODES[mode]
    try:
        pid = server.proc.pid
        time.sleep(2)  # start-up work (migrations, first GC freeze) is not a call's cost
        idle_started, idle_cpu = time.monotonic(), cpu_seconds(pid)
        time.sleep(2)
        idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_started)
        spy = None
        if profile:
            spy_bin = Path(sys.executable).parent / "py-spy"
            cmd = [str(spy_bin), "record", "-o", profile, "--pid", str(pid), "-r", "200"]
            if profile.endswith(".txt"):  # collapsed stacks, for reading rather than viewing
                cmd += ["--format", "raw"]
            spy = subprocess.Popen([*cmd, "--nonblocking"], stdout=subprocess.DEVNULL)
            time.sleep(1)
        started, before = time.monotonic(), cpu_seconds(pid)
        run = sipp_run(tmp, server.sip_port, number, final, rate, calls / rate, mode)
        time.sleep(settle)
        used = cpu_seconds(pid) - before - idle_rate * (time.monotonic() - started)
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        done = run.calls - run.failed
        print(
            f"{mode}: {done}/{run.calls} calls at {run.achieved:.0f}/s, "
            f"idle {idle_rate * 1e3:.1f} ms/s, {used * 1e6 / done:.0f} CPU-us per call",
            flush=True,
        )
        return used * 1e6 / done
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=sorted(MODES), default="blocklist")
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="fresh server each time")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after the last call")
    parser.add_argument(
        "--profile",
        default="",
        help="py-spy flame graph of the last run (.svg, or .txt: collapsed stacks)",
    )
    parser.add_argument(
        "--serve-flags", default="", help='more `callplane serve` flags, e.g. "--trace all"'
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        nginx, http_port = start_nginx(tmp)
        try:
            for index in range(args.repeat):
                last = index == args.repeat - 1
                results.append(
                    measure(
                        tmp,
                        http_port,
                        args.mode,
                        args.calls,
                        args.rate,
                        args.settle,
                        args.profile if last else "",
                        tuple(args.serve_flags.split()),
                    )
                )
        finally:
            nginx.terminate()
    print(
        f"{args.mode}: CPU-us per call min / median / max: "
        f"{min(results):.0f} / {statistics.median(results):.0f} / {max(results):.0f}"
    )


if __name__ == "__main__":
    main()
