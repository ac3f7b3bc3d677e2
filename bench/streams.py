"""Two-way audio streams (issue 14): N calls, each connected to an echo voice agent.

Per step of N calls: SIPp (``uac_bridge_hold.xml``) places N calls to a number whose
answer document is ``<Connect><Stream url="ws://.../"/></Connect>`` (Twilio's
messages, mu-law 8 kHz); the agent (``bench/stream_agent.py``, its own process)
echoes every frame back; the callers' RTP is ``bench/stream_load.py`` (its own
process), 50 PCMU packets/s into every call, each payload naming its stream and
sequence number. Timestamps are taken at the socket boundaries around Callplane:

* RTP in -> WebSocket out: the caller's send (``time.time()`` before ``sendto``) to
  the agent's receipt of the ``media`` message carrying that packet;
* WebSocket in -> RTP out: the agent's send of the echo to the kernel receive time
  (SO_TIMESTAMPNS) of the RTP packet carrying it back. The agent's audio is played
  at the call's pace, so this includes the wait for the call's next 20 ms tick and
  for the audio queued before it. "missed tick": echoes that went out after a
  silent packet of their call although they had been sent before it (Callplane was
  too slow to play them at the first tick); "queued": echoes that waited behind
  earlier echoes (the agent's queue: a caller or agent stalled by a busy machine
  sends a burst, and the echo's queue keeps the extra frames, as it would keep a
  voice agent's speech). "RTP out pacing": |interval - 20 ms| between consecutive
  packets Callplane sent to a caller;
* loss both ways (an echo is lost when a later one of its call came back: the
  agent's audio plays in order, and the clear drops what was still queued), the
  round trip's added jitter (|transit(n) - transit(n-1)| of
  consecutive packets, transit = caller's send to the echo's arrival);
* ``clear`` -> silence: after the window the agent stops echoing, queues 3 s on
  every stream and 0.3 s later sends ``clear``; the time from the clear to the
  first silent packet of that call, and how many queued frames still came after it.

Server CPU (utime + stime from /proc) and RSS over the window; the CPU also per
stream-second (the server's CPU time divided by streams x seconds: the figure that
stays meaningful on a shared, busy machine) and the streams one core would carry at
that cost. ``--profile`` samples the server with py-spy over each window. The server is pinned
to ``--server-cpu`` and the agent and callers to the other CPUs unless ``--no-pin``.

    .venv/bin/python bench/streams.py --steps 50,100 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import WebhookServer  # noqa: E402

from bench.bridge_calls import (  # noqa: E402
    CLOCK_TICKS,
    SETUP_SLACK,
    UAC,
    cpus,
    finish,
    rss_mb,
    sipp,
    start_server,
)
from bench.sipp_results import read_stat  # noqa: E402
from bench.stream_agent import BURST_SEQ, CLEAR_AFTER, agent_main  # noqa: E402
from bench.stream_load import load_main  # noqa: E402

NUMBER = "15550007000"
CLEAR_GAP = 0.5  # seconds between the window's end and the burst
REPORT_AFTER = 1.5  # seconds after the clear until both sides report
HANGUP_SLACK = 2.0
PY_SPY = str(Path(sys.executable).with_name("py-spy"))


@dataclass
class Step:
    calls: int
    failed: int
    streams: int
    sent: int
    in_p50: float
    in_p99: float
    out_p50: float
    out_p99: float
    missed_tick: float
    queued: float
    pacing_p99: float
    lost_in: int
    lost_out: int
    round_trip_p50: float
    round_trip_p99: float
    jitter_p50: float
    jitter_p99: float
    jitter_max: float
    clear_p50: float
    clear_p99: float
    clear_max: float
    after_clear: int
    server_cpu: float
    cpu_ms_per_stream_s: float
    system_share: float
    rss_mb: float
    rx_drops: int

    def row(self) -> str:
        cells = [
            self.calls,
            self.failed,
            self.streams,
            f"{self.sent:,}",
            f"{self.in_p50:.2f} / {self.in_p99:.2f}",
            f"{self.out_p50:.1f} / {self.out_p99:.1f}",
            f"{self.missed_tick:.2%} / {self.queued:.0%}",
            f"{self.pacing_p99:.2f}",
            f"{self.lost_in} / {self.lost_out}",
            f"{self.round_trip_p50:.1f} / {self.round_trip_p99:.1f}",
            f"{self.jitter_p50:.2f} / {self.jitter_p99:.2f} / {self.jitter_max:.1f}",
            f"{self.clear_p50:.1f} / {self.clear_p99:.1f} / {self.clear_max:.1f}",
            self.after_clear,
            f"{self.server_cpu:.0%}",
            f"{self.cpu_ms_per_stream_s:.2f} ({self.system_share:.0%})",
            f"{1000 / self.cpu_ms_per_stream_s:.0f}" if self.cpu_ms_per_stream_s else "-",
            f"{self.rss_mb:.0f}",
            self.rx_drops,
        ]
        return "| " + " | ".join(str(cell) for cell in cells) + " |"


HEADER = (
    "| calls | failed | streams | packets sent | RTP in -> WS out p50 / p99 ms "
    "| WS in -> RTP out p50 / p99 ms | missed tick / queued | RTP out pacing p99 ms "
    "| lost in / out "
    "| round trip p50 / p99 ms | added jitter p50 / p99 / max ms "
    "| clear -> silence p50 / p99 / max ms | frames after clear | server CPU "
    "| CPU ms per stream-second (in the kernel) | streams per core | RSS MB "
    "| rx drops |\n" + "|---" * 18 + "|"
)


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


# -- analysis -------------------------------------------------------------------------


def columns(records: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids, seqs, times = records
    return (
        np.frombuffer(ids, dtype=np.int64),
        np.frombuffer(seqs, dtype=np.int64),
        np.frombuffer(times, dtype=np.float64),
    )


def percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


class Packets:
    """Every packet the callers sent, addressed by (stream, sequence number)."""

    def __init__(self, sent: list[Any]) -> None:
        self.sent = [np.frombuffer(times, dtype=np.float64) for times in sent]
        self.lengths = np.array([len(t) for t in self.sent] + [0])
        self.offsets = np.concatenate(([0], np.cumsum(self.lengths)))
        self.times = np.concatenate([*self.sent, np.zeros(0)])

    def at(self, ids: np.ndarray, seqs: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values`` placed at their packets' positions (NaN where none)."""
        out = np.full(len(self.times), np.nan)
        known = (ids >= 0) & (ids < len(self.sent)) & (seqs >= 0)
        known &= seqs < self.lengths[np.clip(ids, 0, len(self.sent))]
        out[self.offsets[ids[known]] + seqs[known]] = values[known]
        return out

    def stream_of(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.sent)), self.lengths[:-1])


def analyse(load: dict[str, Any], agent: dict[str, Any], t0: float, t1: float) -> dict[str, Any]:
    packets = Packets(load["sent"])
    window = (packets.times >= t0) & (packets.times <= t1)
    heard = packets.at(*columns(agent["heard"]))
    echo_sent = packets.at(*columns(agent["sent"]))
    got_ids, got_seqs, got_times = columns(load["got"])
    echo = (got_seqs >= 0) & (got_seqs < BURST_SEQ)
    back = packets.at(got_ids[echo], got_seqs[echo], got_times[echo])
    echoed = window & ~np.isnan(echo_sent)
    came_back = echoed & ~np.isnan(back)

    owner = packets.stream_of()
    missed = queued = 0
    pacing = []
    for stream in range(len(packets.sent)):
        order = np.argsort(got_times[got_ids == stream])
        times = got_times[got_ids == stream][order]
        silent = np.cumsum(got_seqs[got_ids == stream][order] == -1)
        mine = came_back & (owner == stream)
        sent_at = np.searchsorted(times, echo_sent[mine], side="right")
        back_at = np.searchsorted(times, back[mine])
        # a silent packet between the echo's send and its arrival: it missed a tick with
        # nothing queued before it; only echoes between: it waited behind queued audio
        silent_between = silent[np.maximum(back_at - 1, 0)] - silent[np.maximum(sent_at - 1, 0)]
        missed += int(((back_at > sent_at) & (silent_between > 0)).sum())
        queued += int(((back_at > sent_at) & (silent_between == 0)).sum())
        inside = (times[1:] >= t0) & (times[1:] <= t1)
        pacing.append(np.abs(np.diff(times)[inside] - 0.020))
    pacing_ms = np.concatenate([*pacing, np.zeros(0)]) * 1000

    # The agent's audio is played in order, so an echo missing before one that came back
    # was lost; the ones after the last that came back may have been dropped by the clear.
    lost_out = 0
    for stream in range(len(packets.sent)):
        mine = echoed & (owner == stream)
        arrived = mine & ~np.isnan(back)
        if arrived.any():
            last = echo_sent[arrived].max()
            lost_out += int((mine & np.isnan(back) & (echo_sent < last)).sum())

    round_trip = back - packets.times
    jitter = []
    for stream in range(len(packets.sent)):
        mine = round_trip[packets.offsets[stream] : packets.offsets[stream + 1]]
        inside = window[packets.offsets[stream] : packets.offsets[stream + 1]]
        steps = np.abs(np.diff(mine))[inside[1:] & inside[:-1]]
        jitter.append(steps[~np.isnan(steps)])
    jitters = np.concatenate([*jitter, np.zeros(0)]) * 1000

    silences, after_clear = [], 0
    for ident, cleared in agent["clears"].items():
        mine = got_ids == ident
        later = (got_times > cleared) & mine
        silent = later & (got_seqs == -1)
        if not silent.any():
            continue
        first = got_times[silent].min()
        silences.append(first - cleared)
        after_clear += int((mine & (got_seqs >= BURST_SEQ) & (got_times > first)).sum())
    clear_ms = np.array(silences) * 1000

    in_ms = (heard - packets.times)[window & ~np.isnan(heard)] * 1000
    out_ms = (back - echo_sent)[came_back] * 1000
    return {
        "streams": len(packets.sent),
        "sent": int(window.sum()),
        "in_p50": percentile(in_ms, 50),
        "in_p99": percentile(in_ms, 99),
        "out_p50": percentile(out_ms, 50),
        "out_p99": percentile(out_ms, 99),
        "missed_tick": missed / max(1, int(came_back.sum())),
        "queued": queued / max(1, int(came_back.sum())),
        "pacing_p99": percentile(pacing_ms, 99),
        "lost_in": int((window & np.isnan(heard)).sum()),
        "lost_out": lost_out,
        "round_trip_p50": percentile(round_trip[came_back] * 1000, 50),
        "round_trip_p99": percentile(round_trip[came_back] * 1000, 99),
        "jitter_p50": percentile(jitters, 50),
        "jitter_p99": percentile(jitters, 99),
        "jitter_max": percentile(jitters, 100),
        "clear_p50": percentile(clear_ms, 50),
        "clear_p99": percentile(clear_ms, 99),
        "clear_max": percentile(clear_ms, 100),
        "after_clear": after_clear,
        "rx_drops": load["rx_drops"],
    }


# -- one step -------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    server_pid: int
    sip_port: int
    load: Connection
    agent: Connection
    caller_rtp: int

    def step(self, calls: int) -> Step:
        stepdir = self.workdir / f"step-{calls}"
        stepdir.mkdir()
        discover = calls / self.args.rate + SETUP_SLACK
        tail = CLEAR_GAP + CLEAR_AFTER + REPORT_AFTER
        hold = discover + self.args.settle + self.args.seconds + tail + HANGUP_SLACK
        self.load.send(("run", calls, discover, self.args.settle))
        uac = sipp(
            stepdir, UAC, "-s", NUMBER, "-r", str(self.args.rate), "-m", str(calls),
            "-l", str(calls), "-d", str(int(hold * 1000)),
            "-key", "caller_rtp", str(self.caller_rtp), f"127.0.0.1:{self.sip_port}",
        )  # fmt: skip
        assert self.load.recv()[0] == "begin"
        t0 = time.time()
        t1 = t0 + self.args.seconds
        clear_at = t1 + CLEAR_GAP + CLEAR_AFTER
        report_at = clear_at + REPORT_AFTER
        self.agent.send(("clear", clear_at, report_at))
        self.load.send(("until", report_at))
        profiler = self.profile(calls)
        (user0, system0), wall0 = cpu_times(self.server_pid), time.time()
        time.sleep(max(0.0, t1 - time.time()))  # the window runs in the other processes
        user1, system1 = cpu_times(self.server_pid)
        wall = time.time() - wall0
        used = user1 - user0 + system1 - system0
        rss = rss_mb(self.server_pid)
        load = self.load.recv()[1]
        agent = self.agent.recv()
        finish(uac, hold + 60)
        if profiler is not None:
            finish(profiler, 30)
        failed, ok = read_stat(stepdir, UAC.stem)
        figures = analyse(load, agent, t0, t1)
        return Step(
            calls=calls,
            failed=failed or calls - ok,
            server_cpu=used / wall,
            # CPU seconds of the whole server process per second of one stream, in ms
            cpu_ms_per_stream_s=1000 * used / (wall * max(1, figures["streams"])),
            system_share=(system1 - system0) / used if used else 0.0,
            rss_mb=rss,
            **figures,
        )

    def profile(self, calls: int) -> subprocess.Popen[bytes] | None:
        """py-spy on the server for the measured window, when ``--profile`` asks."""
        if self.args.profile is None:
            return None
        profile = self.args.profile
        out = profile.with_name(f"{profile.stem}-{calls}{profile.suffix or '.svg'}")
        raw = profile.suffix == ".txt"  # collapsed stacks instead of a flame graph
        cmd = [PY_SPY, "record", "--pid", str(self.server_pid), "--rate", "200"]
        cmd += ["--format", "raw" if raw else "flamegraph"]
        cmd += ["--duration", str(int(self.args.seconds)), "--output", str(out), "--nonblocking"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args: argparse.Namespace, workdir: Path) -> list[Step]:
    server_cpu, other_cpus = cpus(args)
    (workdir / "server").mkdir()
    server = start_server(workdir, args, server_cpu)
    spawn = mp.get_context("spawn")
    load_conn, load_child = spawn.Pipe()
    agent_conn, agent_child = spawn.Pipe()
    others = sorted(other_cpus) if other_cpus else [None]
    loader = spawn.Process(target=load_main, args=(load_child, others[0], args.realtime))
    agent = spawn.Process(target=agent_main, args=(agent_child, others[-1]))
    loader.start()
    agent.start()
    web = WebhookServer().start()
    steps: list[Step] = []
    try:
        caller_rtp, agent_port = load_conn.recv(), agent_conn.recv()
        document = (
            f'<Response><Connect><Stream url="ws://127.0.0.1:{agent_port}/echo"/>'
            "</Connect></Response>"
        )
        server.number(NUMBER, server.application(web.set("/streams", document)))
        server.api("POST", "", json={"inbound_cps": 100000})
        bench = Bench(
            args, workdir, server.proc.pid, server.sip_port, load_conn, agent_conn, caller_rtp
        )
        pinned = (
            "unpinned"
            if server_cpu is None
            else f"server on CPU {min(server_cpu)}, agent and callers on {others}"
        )
        print(f"# {pinned}; {args.seconds:g} s measured per step\n{HEADER}", flush=True)
        for calls in args.steps:
            steps.append(bench.step(calls))
            print(steps[-1].row(), flush=True)
            time.sleep(2)  # let the previous step's calls end everywhere
    finally:
        load_conn.send(("quit",))
        agent_conn.send(("quit",))
        loader.join(10)
        agent.join(10)
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
        default=[50, 100],
        help="concurrent streams per step, comma-separated (default 50,100)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per step")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after the last call")
    parser.add_argument("--rate", type=int, default=50, help="call set-up rate, calls/s")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for callplane serve")
    parser.add_argument("--no-pin", action="store_true", help="do not pin any process")
    parser.add_argument("--rtp-ports", default="40000-44999", help="the server's RTP ports")
    parser.add_argument(
        "--realtime", action="store_true", help="run the callers SCHED_FIFO (needs root)"
    )
    parser.add_argument("--json", type=Path, help="also write the steps as JSON here")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the server over each window: flame graph PROFILE-<streams>.svg "
        "(collapsed stacks if PROFILE ends in .txt)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="streams-bench-"))
    steps = run(args, workdir)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in steps], indent=1))
    if args.keep:
        print(f"work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
