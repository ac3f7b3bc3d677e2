"""Bridged calls with audio both ways: how many can one `callplane serve` hold?

Per step of N calls: SIPp (uac_bridge_hold.xml) places N calls to a number
whose answer document is ``<Wait length="1"/><Dial><User>sip:callee@...</User></Dial>``;
Callplane dials a SIPp UAS (uas_bridge_answer.xml) as the B leg and bridges the
two. The Wait's silence shows the load tool each A leg (a pass-through bridge
sends a leg only what the other side sends; the A leg's relayed packets then
show it each B leg), and the relay must continue that stream. Both
SIPp scenarios put the RTP load tool's sockets in their SDP (``-key``), and
``bench/rtp_load.py`` (a child process) sends 50 PCMU packets/s into every leg
and measures what the bridge relays: loss, added jitter (p50/p99/max) and
latency per direction, once every leg is found and ``--settle`` s have passed,
for ``--seconds`` s. Server CPU (utime + stime from /proc) and resident memory
are read over the same window. SIPp hangs up (BYE) after the window.

The server is pinned to ``--server-cpu`` and everything else (SIPp, the load
tool, the webhook server) to the other CPUs (sched_setaffinity, what taskset
does), unless ``--no-pin``. A step passes when every call was set up, no
relayed packet was lost and the added jitter p99 is under 5 ms; the ramp stops
after the first step that does not pass (unless ``--keep-going``).

    .venv/bin/python bench/bridge_calls.py --steps 50,100,200,300,500 --seconds 60
    .venv/bin/python bench/bridge_calls.py --steps 2 --seconds 3 --json out.json
    .venv/bin/python bench/bridge_calls.py --steps 100 --api-rate 200  # with API reads

``--api-rate`` fills the server's database with ``--api-records`` call records
first and has wrk send about that many ``GET /Call/?limit=20`` per second during
each window, to show what API reads on the same event loop do to the media.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import LAB, CallplaneServer, WebhookServer, free_port  # noqa: E402

from bench import api_reads  # noqa: E402
from bench.rtp_load import REALTIME_PRIORITY, load_main  # noqa: E402
from bench.sipp_results import read_rtt, read_stat  # noqa: E402

SCENARIOS = Path(__file__).parent / "scenarios"
UAC = SCENARIOS / "uac_bridge_hold.xml"
UAS = SCENARIOS / "uas_bridge_answer.xml"
NUMBER = "15550005000"
JITTER_LIMIT_MS = 5.0
SETUP_SLACK = 3.0
HANGUP_SLACK = 2.0  # past the window and the load tool's grace period
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    calls: int
    set_up: int
    failed: int
    legs: int
    sent: int
    lost_ab: int
    lost_ba: int
    lossy_streams: int
    loss_moments: int
    jitter_p50: float
    jitter_p99: float
    jitter_max: float
    latency_p50: float
    latency_p99: float
    filler: int
    setup_p99_ms: float
    server_cpu: float
    rss_mb: float
    load_cpu: float
    send_jitter_p99: float
    rx_drops: int
    api_rps: float = 0.0
    api_p99_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.failed == 0
            and self.legs == 2 * self.calls
            and self.lost_ab + self.lost_ba == 0
            and self.jitter_p99 < JITTER_LIMIT_MS
        )

    def row(self) -> str:
        cells = [
            self.calls,
            self.failed,
            self.legs,
            f"{self.sent:,}",
            f"{self.lost_ab} / {self.lost_ba} ({self.lossy_streams}, {self.loss_moments})",
            f"{self.jitter_p50:.2f} / {self.jitter_p99:.2f} / {self.jitter_max:.1f}",
            f"{self.latency_p50:.1f} / {self.latency_p99:.1f}",
            f"{self.filler:,}",
            f"{self.setup_p99_ms:.0f}",
            f"{self.server_cpu:.0%}",
            f"{self.rss_mb:.0f}",
            f"{self.load_cpu:.0%}",
            f"{self.send_jitter_p99:.2f}",
            self.rx_drops,
            f"{self.api_rps:.0f} / {self.api_p99_ms:.1f}",
            "ok" if self.ok else "--",
        ]
        return "| " + " | ".join(str(cell) for cell in cells) + " |"


HEADER = (
    "| calls | failed | legs | packets sent | lost A->B / B->A (streams, moments) "
    "| added jitter p50 / p99 / max ms | latency p50 / p99 ms | filler | setup p99 ms "
    "| server CPU | RSS MB | load CPU "
    "| send jitter p99 ms | rx drops | API lists req/s / p99 ms | pass |\n" + "|---" * 16 + "|"
)


# -- the server's /proc -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- SIPp ---------------------------------------------------------------------------


def sipp(workdir: Path, scenario: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-nostdin", "-t", "u1"]
    cmd += ["-max_socket", "60000", "-trace_stat", "-fd", "1", "-trace_err", *args]
    return subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- one step -----------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    server: CallplaneServer
    conn: Connection
    caller_rtp: int
    callee_rtp: int
    uas_port: int
    api_script: Path | None = None

    def step(self, calls: int) -> Step:
        stepdir = self.workdir / f"step-{calls}"
        stepdir.mkdir()
        ramp = calls / self.args.rate
        discover = ramp + SETUP_SLACK  # all legs found by then, or the step proceeds without
        hold_ms = int((discover + self.args.settle + self.args.seconds + HANGUP_SLACK) * 1000)
        uas = sipp(
            stepdir, UAS, "-p", str(self.uas_port), "-m", str(calls),
            "-key", "callee_rtp", str(self.callee_rtp),
        )  # fmt: skip
        time.sleep(0.3)  # let the UAS bind before the first B leg comes
        self.conn.send(("run", calls, self.args.seconds, discover, self.args.settle))
        uac = sipp(
            stepdir, UAC, "-s", NUMBER, "-r", str(self.args.rate), "-m", str(calls),
            "-l", str(calls), "-d", str(hold_ms), "-key", "caller_rtp", str(self.caller_rtp),
            "-trace_rtt", "-rtt_freq", "1", f"127.0.0.1:{self.server.sip_port}",
        )  # fmt: skip
        window, api = self.measure_server()
        result = self.conn.recv()[1]
        finish(uac, hold_ms / 1000 + 60)
        finish(uas, 30)
        failed, ok = read_stat(stepdir, UAC.stem)
        setup, _ = read_rtt(stepdir, UAC.stem)
        step = self.row(calls, failed or calls - ok, result, window, setup)
        step.api_rps, step.api_p99_ms = api.get("rps", 0.0), api.get("p99_ms", 0.0)
        return step

    def measure_server(self) -> tuple[tuple[float, float], dict[str, float]]:
        """(CPU share, RSS MB) of the server between the load tool's begin and end, and
        wrk's figures for the API list requests sent meanwhile (``--api-rate``)."""
        pid = self.server.proc.pid
        assert self.conn.recv()[0] == "begin"
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        wrk = None
        if self.api_script is not None:
            port = self.server.http_port
            wrk = api_reads.start_wrk(self.api_script, port, self.args.seconds, api_reads.PACED)
        assert self.conn.recv()[0] == "end"
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        api = api_reads.parse_wrk(wrk.communicate()[0]) if wrk is not None else {}
        return (cpu, rss_mb(pid)), api

    def row(
        self,
        calls: int,
        failed: int,
        result: dict[str, Any],
        window: tuple[float, float],
        setup: list[float],
    ) -> Step:
        ab, ba = result["a_to_b"], result["b_to_a"]
        setup.sort()
        return Step(
            calls=calls,
            set_up=calls - failed,
            failed=failed,
            legs=result["legs_a"] + result["legs_b"],
            sent=ab["sent"] + ba["sent"],
            lost_ab=ab["lost"],
            lost_ba=ba["lost"],
            lossy_streams=ab["lossy_streams"] + ba["lossy_streams"],
            loss_moments=ab["loss_moments"] + ba["loss_moments"],
            jitter_p50=max(ab["jitter_p50"], ba["jitter_p50"]),
            jitter_p99=max(ab["jitter_p99"], ba["jitter_p99"]),
            jitter_max=max(ab["jitter_max"], ba["jitter_max"]),
            latency_p50=max(ab["latency_p50"], ba["latency_p50"]),
            latency_p99=max(ab["latency_p99"], ba["latency_p99"]),
            filler=ab["filler"] + ba["filler"],
            setup_p99_ms=setup[int(len(setup) * 0.99)] if setup else float("nan"),
            server_cpu=window[0],
            rss_mb=window[1],
            load_cpu=result["load_cpu"],
            send_jitter_p99=result["send_jitter_p99"],
            rx_drops=result["rx_drops"],
        )


# -- wiring -------------------------------------------------------------------------


def cpus(args: argparse.Namespace) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, load CPUs), or (None, None) when not pinning."""
    available = os.sched_getaffinity(0)
    if args.no_pin or len(available) < 2 or args.server_cpu not in available:
        return None, None
    return {args.server_cpu}, available - {args.server_cpu}


def make_realtime(pid: int) -> None:
    """SCHED_FIFO for every thread of ``pid`` (threads started later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setscheduler(int(task.name), os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))


def start_server(workdir: Path, args: argparse.Namespace, cpu: set[int] | None) -> CallplaneServer:
    """Start `callplane serve`; pinned by starting it while this thread runs on ``cpu``."""
    before = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, cpu)
    extra = ("--log-level", "WARNING", "--rtp-ports", args.rtp_ports, *LAB)
    try:
        return CallplaneServer(workdir / "server", extra=extra).start()
    finally:
        os.sched_setaffinity(0, before)


def configure(server: CallplaneServer, web: WebhookServer, uas_port: int) -> None:
    document = (
        '<Response><Wait length="1"/>'
        f"<Dial><User>sip:callee@127.0.0.1:{uas_port}</User></Dial></Response>"
    )
    server.number(NUMBER, server.application(web.set("/bridge", document)))
    server.api("POST", "", json={"inbound_cps": 100000})


def run(args: argparse.Namespace, workdir: Path) -> list[Step]:
    server_cpu, load_cpu = cpus(args)
    (workdir / "server").mkdir()
    api_script = None
    if args.api_rate:  # a call log to list, in the database `callplane serve` opens
        db = workdir / "server" / "callplane.db"
        account, ids = asyncio.run(api_reads.fill(db, args.api_records))
        api_script = api_reads.paced_list_script(workdir, account, ids, args.api_rate)
    server = start_server(workdir, args, server_cpu)
    if args.realtime_server:
        make_realtime(server.proc.pid)
    if load_cpu is not None:
        os.sched_setaffinity(0, load_cpu)
    parent, child = mp.Pipe()
    load_cpu_one = min(load_cpu) if load_cpu else None
    loader = mp.get_context("spawn").Process(
        target=load_main, args=(child, load_cpu_one, args.realtime)
    )
    loader.start()
    web = WebhookServer().start()
    steps: list[Step] = []
    try:
        caller_rtp, callee_rtp = parent.recv()
        uas_port = free_port()
        configure(server, web, uas_port)
        bench = Bench(args, workdir, server, parent, caller_rtp, callee_rtp, uas_port, api_script)
        pinned = (
            "unpinned"
            if server_cpu is None
            else f"server on CPU {min(server_cpu)}, the rest on CPU {sorted(load_cpu or ())}"
        )
        print(f"# {pinned}; {args.seconds:g} s measured per step\n{HEADER}", flush=True)
        for calls in args.steps:
            steps.append(bench.step(calls))
            print(steps[-1].row(), flush=True)
            if not (steps[-1].ok or args.keep_going):
                break
            time.sleep(2)  # let the previous step's calls end everywhere
    finally:
        parent.send(("quit",))
        loader.join(10)
        web.stop()
        server.stop()
    return steps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[50, 100, 200, 300, 500],
        help="calls per step, comma-separated (default 50,100,200,300,500)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per step")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the last leg")
    parser.add_argument("--rate", type=int, default=50, help="call set-up rate, calls/s")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for callplane serve")
    parser.add_argument("--no-pin", action="store_true", help="do not pin any process")
    parser.add_argument("--rtp-ports", default="40000-44999", help="the server's RTP ports")
    parser.add_argument(
        "--realtime", action="store_true", help="run the RTP load tool SCHED_FIFO (needs root)"
    )
    parser.add_argument(
        "--realtime-server",
        action="store_true",
        help="run callplane serve SCHED_FIFO too, like Asterisk -p (needs root; "
        "an overloaded server then starves other work on its CPU)",
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="do not stop at the first failing step"
    )
    parser.add_argument(
        "--api-rate",
        type=int,
        default=0,
        help="also send about this many GET /Call/?limit=20 per second during each window",
    )
    parser.add_argument(
        "--api-records", type=int, default=100_000, help="call records to list (--api-rate)"
    )
    parser.add_argument("--json", type=Path, help="also write the steps as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    steps = run(args, workdir)
    best = max((s.calls for s in steps if s.ok), default=0)
    print(f"highest N with every call up, zero loss, added jitter p99 < 5 ms: {best}")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) | {"ok": s.ok} for s in steps], indent=1))
    if args.keep:
        print(f"work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
