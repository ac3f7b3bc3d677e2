"""Answered-call load: answer + Speak (about 3 s) + Hangup, calls/s with zero failures.

SIPp places calls at rising rates; each is answered with SDP, hears a cached
TTS prompt over RTP, and is hung up by Callplane with BYE. Reported per rate:
failed calls, achieved calls/s, INVITE->200 p50/p99 (SIPp rtd), and the
concurrent calls that rate implies (calls/s x call length).

Run: .venv/bin/python bench/sip_speak.py --rates 50,100,200,300 --seconds 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import LAB, CallplaneServer, WebhookServer  # noqa: E402

from bench.sipp_results import read_rtt, read_stat  # noqa: E402

SCENARIO = Path(__file__).parent / "scenarios" / "uac_answered_speak.xml"
PROMPT = "Thank you for calling. This is a three second prompt."


def run_rate(
    tmp: Path, port: int, rate: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    calls = int(rate * seconds)
    for old in tmp.glob("uac_answered_speak_*"):
        old.unlink()
    cmd = [
        "sipp",
        "-sf",
        str(SCENARIO),
        "-s",
        "15550004000",
        "-i",
        "127.0.0.1",
        "-nostdin",
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-l",
        str(rate * 10),
        "-trace_stat",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-fd",
        "1",
        "-max_socket",
        "60000",
        "-timeout",
        f"{seconds * 3 + 40:.0f}s",
        f"127.0.0.1:{port}",
    ]
    started = time.monotonic()
    subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=seconds * 3 + 90)
    elapsed = time.monotonic() - started
    failed, ok = read_stat(tmp, "uac_answered_speak")
    rtts, _ = read_rtt(tmp, "uac_answered_speak")  # rtd 1: INVITE -> 200
    return ok, failed or calls - ok, ok / max(elapsed - 3.5, 1), rtts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="50,100,200,300")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    web = WebhookServer().start()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        server = CallplaneServer(tmp, extra=("--log-level", "WARNING", *LAB)).start()
        try:
            document = f"<Response><Speak>{PROMPT}</Speak></Response>"
            server.number("15550004000", server.application(web.set("/speak", document)))
            server.api("POST", "", json={"inbound_cps": 100000})
            print(
                "| offered calls/s | calls ok | failed | achieved calls/s | "
                "INVITE->200 p50 ms | p99 ms | concurrent calls |"
            )
            print("|---|---|---|---|---|---|---|")
            for rate in (int(r) for r in args.rates.split(",")):
                ok, failed, achieved, rtts = run_rate(tmp, server.sip_port, rate, args.seconds)
                q = statistics.quantiles(rtts, n=100) if len(rtts) > 1 else [0.0] * 99
                print(
                    f"| {rate} | {ok} | {failed} | {achieved:.0f} | {q[49]:.0f} | "
                    f"{q[98]:.0f} | ~{rate * 3.5:.0f} |",
                    flush=True,
                )
                if failed:
                    break
        finally:
            server.stop()
            web.stop()


if __name__ == "__main__":
    main()
