"""SIP load: calls/s that one `callplane serve` refuses with zero failures.

Modes (all by default):
  webhook    answer URL (served by nginx, a static <Hangup reason="busy"/>) -> 486
  blocklist  refused by the built-in blocklist, no webhook -> 603
  bare       a bare asyncio UDP responder (bench/bare_responder.py) -> 603: a ceiling
  kamailio   Kamailio, one UDP worker, stateless 603 (bench/kamailio_603.cfg): a
             ceiling; included by default when `kamailio` is installed
With --hangup, the application also has a hangup URL (nginx, 200), so every
call also sends its hangup callback. For each rate, SIPp places rate*seconds
calls; the report gives failed calls, the rate SIPp achieved, and INVITE->100 /
INVITE->final p50/p99 (SIPp rtd). Each sweep runs --runs times (default 3),
each on a fresh server; the summary gives min/median/max per step and of the
highest sustained rate. The ceilings show the most the load generator itself
sustained on this machine: a Callplane figure counts as valid only when the
highest ceiling is at least 1.3x above it (otherwise SIPp, not Callplane, may
have been the limit; offer higher rates so the ceilings can climb).
With --memory-calls N, the server's resident memory is read before and after
N more blocklist calls.

Run: .venv/bin/python bench/sip_reject.py --rates 500,1000,2000 --seconds 5 --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import LAB, CallplaneServer, free_port  # noqa: E402

from bench.sipp_results import read_rtt, read_stat  # noqa: E402

SCENARIO = Path(__file__).parent / "scenarios" / "uac_refused_rtd.xml"
WEBHOOK_NUMBER = "15550001000"
BLOCKED_NUMBER = "15550002000"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp};
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location /answer {{
      default_type application/xml;
      return 200 '<Response><Hangup reason="busy"/></Response>';
    }}
    location /hangup {{
      return 200 '';
    }}
    location /answered {{
      default_type application/xml;
      return 200 '<Response><Hangup/></Response>';
    }}
  }}
}}
"""


@dataclass
class Run:
    mode: str
    rate: int
    calls: int
    failed: int
    achieved: float
    to_100: list[float]
    to_final: list[float]

    @property
    def sustained(self) -> bool:
        """Zero failed calls, SIPp got the rate it offered (within 3 %), and no final
        response needed SIPp's 500 ms INVITE retransmission (p99 below 500 ms)."""
        final_p99 = percentile(self.to_final, 99)
        return (
            self.failed == 0
            and self.achieved >= 0.97 * self.rate
            and (final_p99 is None or final_p99 < 500)
        )

    def row(self) -> str:
        def pct(values: list[float], q: int) -> str:
            value = percentile(values, q)
            return "-" if value is None else f"{value:.1f}"

        return (
            f"| {self.mode} | {self.rate} | {self.calls} | {self.failed} | "
            f"{self.achieved:.0f} | {pct(self.to_100, 50)} | {pct(self.to_100, 99)} | "
            f"{pct(self.to_final, 50)} | {pct(self.to_final, 99)} |"
        )


def percentile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-e", str(tmp / "nginx-error.log")])
    time.sleep(0.5)
    return proc, port


def sipp_cmd(
    scenario: Path,
    ip: str,
    rate: int,
    calls: int,
    port: int,
    seconds: float,
    service: str | None = None,
) -> list[str]:
    """SIPp placing ``calls`` at ``rate``/s from ``ip``, with statistics and RTT traces."""
    cmd = ["sipp", "-sf", str(scenario), *(["-s", service] if service else []), "-i", ip]
    cmd += ["-nostdin", "-r", str(rate), "-m", str(calls), "-l", str(max(rate * 4, 100))]
    cmd += ["-trace_stat", "-trace_rtt", "-rtt_freq", "1", "-fd", "1"]
    cmd += ["-timeout", f"{seconds * 3 + 20:.0f}s", "-max_socket", "60000"]
    return [*cmd, f"127.0.0.1:{port}"]


def sipp_run(
    tmp: Path,
    port: int,
    service: str,
    final: int,
    rate: int,
    seconds: float,
    mode: str,
    template: Path = SCENARIO,
) -> Run:
    scenario = tmp / f"load-{final}.xml"
    scenario.write_text(template.read_text().replace("FINAL_CODE", str(final)))
    calls = int(rate * seconds)
    for old in tmp.glob(f"{scenario.stem}_*"):
        old.unlink()
    cmd = sipp_cmd(scenario, "127.0.0.1", rate, calls, port, seconds, service)
    started = time.monotonic()
    subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=seconds * 3 + 60)
    elapsed = time.monotonic() - started
    failed, successful = read_stat(tmp, scenario.stem)
    to_100, to_final = read_rtt(tmp, scenario.stem)
    return Run(
        mode,
        rate,
        calls,
        calls - successful if failed == 0 else failed,
        successful / elapsed,
        to_100,
        to_final,
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


CEILINGS = ("bare", "kamailio")
VALID_MARGIN = 1.3
KAMAILIO_CFG = Path(__file__).parent / "kamailio_603.cfg"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="250,500,1000,1500,2000,2500,3000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--modes",
        default=default_modes(),
        help="comma-separated: webhook, blocklist, bare, kamailio (default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=3, help="sweeps per mode, fresh server each")
    parser.add_argument("--memory-calls", type=int, default=0)
    parser.add_argument("--memory-rate", type=int, default=1000)
    parser.add_argument("--hangup", action="store_true", help="every call sends a hangup callback")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    unknown = set(args.modes.split(",")) - {"webhook", "blocklist", *CEILINGS}
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if "kamailio" in args.modes.split(",") and not shutil.which("kamailio"):
        parser.error("mode kamailio: `kamailio` is not installed")
    sweeps: list[Sweep] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        nginx, http_port = start_nginx(tmp)
        try:
            for run_no in range(1, args.runs + 1):
                for mode in args.modes.split(","):
                    print(f"# run {run_no}, {mode}", flush=True)
                    runs = sweep(tmp, mode, rates, args.seconds, http_port, args.hangup)
                    sweeps.append(Sweep(mode, run_no, runs))
            if args.memory_calls:
                measure_memory(tmp, http_port, args.memory_calls, args.memory_rate, args.hangup)
        finally:
            nginx.terminate()
    print_summary(sweeps)


def default_modes() -> str:
    return "webhook,blocklist,bare" + (",kamailio" if shutil.which("kamailio") else "")


@dataclass
class Sweep:
    """One mode's steps on one fresh server."""

    mode: str
    run_no: int
    runs: list[Run]

    @property
    def best(self) -> float:
        """The highest rate sustained (0 when no step was)."""
        return max((run.achieved for run in self.runs if run.sustained), default=0.0)


def configured_server(
    tmp: Path, http_port: int, hangup: bool = False, extra: tuple[str, ...] = ()
) -> CallplaneServer:
    """A fresh `callplane serve` (each mode starts clean), with both numbers set up;
    with ``hangup`` the application has a hangup URL; ``extra``: more serve flags."""
    data = tmp / f"server-{time.monotonic_ns()}"
    data.mkdir()
    server = CallplaneServer(data, extra=("--log-level", "WARNING", *LAB, *extra)).start()
    base = f"http://127.0.0.1:{http_port}"
    app = server.application(f"{base}/answer", hangup_url=f"{base}/hangup" if hangup else "")
    server.number(WEBHOOK_NUMBER, app)
    block_calls(server, app)
    return server


def block_calls(server: CallplaneServer, app: str) -> None:
    """Calls to BLOCKED_NUMBER are refused (603) by the blocklist, each leaving a record;
    the account takes calls as fast as they come."""
    server.number(BLOCKED_NUMBER, app)
    server.api("POST", "", json={"inbound_cps": 100000})
    rule = {"match": "prefix", "pattern": "1", "reason": "rejected", "number": BLOCKED_NUMBER}
    server.api("POST", "Blocklist/", json=rule)


def sweep(
    tmp: Path, mode: str, rates: list[int], seconds: float, http_port: int, hangup: bool
) -> list[Run]:
    """Each rate in turn until one is not sustained. Callplane modes keep one server
    for the sweep; a ceiling gets a fresh responder per step."""
    runs: list[Run] = []
    server = None if mode in CEILINGS else configured_server(tmp, http_port, hangup)
    try:
        for rate in rates:
            if server is None:
                run = ceiling_run(tmp, mode, rate, seconds)
            else:
                number, final = (
                    (WEBHOOK_NUMBER, 486) if mode == "webhook" else (BLOCKED_NUMBER, 603)
                )
                run = sipp_run(tmp, server.sip_port, number, final, rate, seconds, mode)
            runs.append(run)
            print(run.row(), flush=True)
            if not run.sustained:
                break
    finally:
        if server is not None:
            server.stop()
    return runs


def measure_memory(tmp: Path, http_port: int, calls: int, rate: int, hangup: bool) -> None:
    """Resident memory before and after each of three batches of blocklist calls."""
    server = configured_server(tmp, http_port, hangup)
    try:
        readings = [rss_kib(server.proc.pid)]
        for _ in range(3):
            sipp_run(tmp, server.sip_port, BLOCKED_NUMBER, 603, rate, calls / rate, "memory")
            time.sleep(35)  # past Timer H: every transaction of the batch has ended
            readings.append(rss_kib(server.proc.pid))
        print(
            f"resident memory (KiB) before and after each of 3 batches of {calls} calls "
            f"at {rate}/s: {readings}"
        )
    finally:
        server.stop()


def ceiling_run(tmp: Path, mode: str, rate: int, seconds: float) -> Run:
    port = free_port()
    if mode == "bare":
        cmd = [sys.executable, str(Path(__file__).parent / "bare_responder.py"), str(port)]
    else:
        cmd = ["kamailio", "-f", str(KAMAILIO_CFG), "-DD", "-E", "-m", "64", "-M", "8"]
        cmd += ["-A", f"LISTEN=udp:127.0.0.1:{port}"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_sip(port)
        return sipp_run(tmp, port, "15550003000", 603, rate, seconds, mode)
    finally:
        proc.terminate()  # Kamailio's main process stops its children on SIGTERM
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # not yet past start-up: the group, at once
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_sip(port: int, timeout: float = 10.0) -> None:
    """Until the responder answers a probe INVITE (both ceilings answer any INVITE)."""
    deadline = time.monotonic() + timeout
    probe = b"INVITE sip:probe@127.0.0.1 SIP/2.0\r\n"
    probe += b"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKprobe\r\n"
    probe += b"From: <sip:p@127.0.0.1>;tag=p\r\nTo: <sip:probe@127.0.0.1>\r\n"
    probe += b"Call-ID: probe\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.connect(("127.0.0.1", port))
        while time.monotonic() < deadline:
            try:
                sock.send(probe)
                sock.recv(4096)
                return
            except OSError:
                time.sleep(0.1)
    raise RuntimeError(f"no SIP responder on 127.0.0.1:{port}")


def spread(values: list[float]) -> str:
    """min / median / max."""
    if not values:
        return "-"
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}"


def print_summary(sweeps: list[Sweep]) -> None:
    print(
        "\n| run | mode | offered calls/s | calls | failed | achieved calls/s | "
        "INVITE->100 p50 ms | p99 ms | INVITE->final p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for one in sweeps:
        for run in one.runs:
            print(f"| {one.run_no} {run.row()}")
    modes = list(dict.fromkeys(one.mode for one in sweeps))
    print("\n| mode | offered calls/s | achieved calls/s min / median / max | sustained in |")
    print("|---|---|---|---|")
    for mode in modes:
        of_mode = [one for one in sweeps if one.mode == mode]
        for rate in sorted({run.rate for one in of_mode for run in one.runs}):
            steps = [run for one in of_mode for run in one.runs if run.rate == rate]
            held = sum(run.sustained for run in steps)
            achieved = spread([run.achieved for run in steps])
            print(f"| {mode} | {rate} | {achieved} | {held} of {len(steps)} runs |")
    best = {
        mode: statistics.median([one.best for one in sweeps if one.mode == mode]) for mode in modes
    }
    print("\nhighest sustained rate (zero failures, no retransmissions), min / median / max:")
    for mode in modes:
        print(f"  {mode}: {spread([one.best for one in sweeps if one.mode == mode])} calls/s")
    ceilings = {mode: best[mode] for mode in CEILINGS if mode in best}
    if not ceilings:
        print("no ceiling measured (add bare or kamailio to --modes): no figure is validated")
        return
    ceiling = max(ceilings.values())
    print(
        "generator ceiling (the most SIPp sustained against "
        + ", ".join(f"{mode} {value:.0f}" for mode, value in ceilings.items())
        + f"): {ceiling:.0f} calls/s"
    )
    for mode in modes:
        if mode in CEILINGS:
            continue
        if not best[mode]:
            verdict = "no rate sustained: offer lower rates"
        elif ceiling >= VALID_MARGIN * best[mode]:
            verdict = "valid"
        else:
            verdict = f"NOT valid (ceiling < {VALID_MARGIN}x: the generator may be the limit)"
        ratio = best[mode] / ceiling if ceiling else 0.0
        print(f"  {mode}: median {best[mode]:.0f} calls/s, {ratio:.2f} of the ceiling, {verdict}")


if __name__ == "__main__":
    main()
