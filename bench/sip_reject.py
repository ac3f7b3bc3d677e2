"""SIP load: calls/s that one `callplane serve` refuses with zero failures.

Modes (all by default):
  webhook    answer URL (served by nginx, a static <Hangup reason="busy"/>) -> 486
  blocklist  refused by the built-in blocklist, no webhook -> 603
  bare       a bare asyncio UDP responder (bench/bare_responder.py) -> 603: the ceiling
With --hangup, the application also has a hangup URL (nginx, 200), so every
call also sends its hangup callback. For each rate, SIPp places rate*seconds
calls; the report gives failed calls, the rate SIPp achieved, and INVITE->100 /
INVITE->final p50/p99 (SIPp rtd).
With --memory-calls N, the server's resident memory is read before and after
N more blocklist calls.

Run: .venv/bin/python bench/sip_reject.py --rates 500,1000,2000 --seconds 5
"""

from __future__ import annotations

import argparse
import shutil
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
    tmp: Path, port: int, service: str, final: int, rate: int, seconds: float, mode: str
) -> Run:
    scenario = tmp / f"load-{final}.xml"
    scenario.write_text(SCENARIO.read_text().replace("FINAL_CODE", str(final)))
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="250,500,1000,1500,2000,2500,3000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--modes", default="webhook,blocklist,bare")
    parser.add_argument("--memory-calls", type=int, default=0)
    parser.add_argument("--memory-rate", type=int, default=1000)
    parser.add_argument("--hangup", action="store_true", help="every call sends a hangup callback")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        nginx, http_port = start_nginx(tmp)
        try:
            for mode in args.modes.split(","):
                runs += sweep(tmp, mode, rates, args.seconds, http_port, args.hangup)
            if args.memory_calls:
                measure_memory(tmp, http_port, args.memory_calls, args.memory_rate, args.hangup)
        finally:
            nginx.terminate()
    print_summary(runs)


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
    runs: list[Run] = []
    server = None if mode == "bare" else configured_server(tmp, http_port, hangup)
    try:
        for rate in rates:
            if server is None:
                run = bare_run(tmp, rate, seconds)
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


def bare_run(tmp: Path, rate: int, seconds: float) -> Run:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "bare_responder.py"), str(port)]
    )
    time.sleep(0.5)
    try:
        return sipp_run(tmp, port, "15550003000", 603, rate, seconds, "bare")
    finally:
        proc.terminate()
        proc.wait()


def print_summary(runs: list[Run]) -> None:
    print(
        "\n| mode | offered calls/s | calls | failed | achieved calls/s | "
        "INVITE->100 p50 ms | p99 ms | INVITE->final p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())
    best: dict[str, float] = {}
    for run in runs:
        if run.sustained:
            best[run.mode] = max(best.get(run.mode, 0), run.achieved)
    for mode, value in best.items():
        print(
            f"highest sustained rate (zero failures, no retransmissions), {mode}: "
            f"{value:.0f} calls/s"
        )
    if best.get("bare"):
        for mode in ("webhook", "blocklist"):
            if mode in best:
                print(f"{mode} / bare ratio: {best[mode] / best['bare']:.2f}")


if __name__ == "__main__":
    main()
