"""Flood containment: one source floods a blocklisted number while a legitimate caller
keeps calling.

For --seconds (20), SIPp bound to 127.0.0.2 sends --flood-rate (3,000) INVITEs/s,
never retransmitted, from a blocklisted caller to BLOCKED_NUMBER (whose application
has a hangup URL); at the same time SIPp on 127.0.0.1 places --legit-rate (20)
calls/s to WEBHOOK_NUMBER, whose answer URL (nginx) returns
``<Hangup reason="busy"/>`` (486). `callplane serve` runs with its default
per-source limit and bans. Reported: the share of legitimate calls that got
their 486, their INVITE->final p50/p99 (SIPp rtd), the records and hangup POSTs
the flood caused as a share of its INVITEs, and the server's resident memory at
start (after a few warm-up calls from 127.0.0.3), at the end of the flood and
--settle (60) seconds later.

Goal (issue 12): 100 % legitimate success, p99 < 100 ms, flood records + webhooks
<= 1 % of the flood's INVITEs, memory back within 10 % after the settle time.

Run: .venv/bin/python bench/flood.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.interop.harness import SCENARIOS, CallplaneServer, WebhookServer  # noqa: E402

from bench.sip_reject import (  # noqa: E402
    BLOCKED_NUMBER,
    SCENARIO,
    WEBHOOK_NUMBER,
    percentile,
    rss_kib,
    sipp_cmd,
    start_nginx,
)
from bench.sipp_results import read_rtt, read_stat  # noqa: E402

FLOOD_SCENARIO = SCENARIOS / "uac_invite_flood.xml"
FLOODER, LEGITIMATE = "127.0.0.2", "127.0.0.1"
HANGUP_PATH = "/flood/hangup"


def configured_server(tmp: Path, nginx_port: int, web: WebhookServer) -> CallplaneServer:
    """Default limits; the blocked number's calls are refused by the blocklist (603), each
    with a record and a hangup callback, as a customer would configure it."""
    data = tmp / "server"
    data.mkdir()
    server = CallplaneServer(data, extra=("--log-level", "WARNING")).start()
    server.api("POST", "", json={"inbound_cps": 100000})  # the per-source limit is tested
    answer = f"http://127.0.0.1:{nginx_port}/answer"
    server.number(WEBHOOK_NUMBER, server.application(answer))
    server.number(BLOCKED_NUMBER, server.application(answer, hangup_url=web.url(HANGUP_PATH)))
    rule = {"match": "prefix", "pattern": "1", "reason": "rejected", "number": BLOCKED_NUMBER}
    server.api("POST", "Blocklist/", json=rule)
    return server


def records_to(server: CallplaneServer, number: str) -> int:
    page = server.api("GET", "Call/", params={"to_number": number, "limit": 1})
    return int(page["meta"]["total_count"])


def settled_flood_effects(server: CallplaneServer, web: WebhookServer) -> tuple[int, int]:
    """(records, hangup POSTs) of the blocked number once both stopped changing."""
    last = (-1, -1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = (records_to(server, BLOCKED_NUMBER), len(web.seen(HANGUP_PATH)))
        if now == last and now[0] == now[1]:
            break
        last = now
        time.sleep(1.0)
    return last


def warm_up(
    tmp: Path, server: CallplaneServer, web: WebhookServer, legit_xml: Path, flood_xml: Path
) -> None:
    """A few calls of each kind (from another address) before memory is first read, so
    lazy imports and connection pools count as start-up, not as the flood's."""
    for scenario, calls in ((legit_xml, 5), (flood_xml, 1)):
        warm = tmp / f"warm-{scenario.name}"
        warm.write_text(scenario.read_text())
        subprocess.run(
            sipp_cmd(warm, "127.0.0.3", 5, calls, server.sip_port, 2),
            cwd=tmp,
            capture_output=True,
            timeout=30,
        )
    deadline = time.monotonic() + 10
    while not web.seen(HANGUP_PATH) and time.monotonic() < deadline:
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flood-rate", type=int, default=3000)
    parser.add_argument("--legit-rate", type=int, default=20)
    parser.add_argument("--settle", type=float, default=60.0)
    args = parser.parse_args()
    flood_calls = int(args.flood_rate * args.seconds)
    legit_calls = int(args.legit_rate * args.seconds)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        nginx, nginx_port = start_nginx(tmp)
        web = WebhookServer().start()
        server = configured_server(tmp, nginx_port, web)
        try:
            flood_xml = tmp / "flood.xml"
            flood_xml.write_text(
                FLOOD_SCENARIO.read_text().format(
                    to=BLOCKED_NUMBER, caller="19005550100", caller_name="Flood"
                )
            )
            legit_xml = tmp / "legit.xml"
            legit_xml.write_text(SCENARIO.read_text().replace("FINAL_CODE", "486"))
            legit_xml.write_text(legit_xml.read_text().replace("[service]", WEBHOOK_NUMBER))
            warm_up(tmp, server, web, legit_xml, flood_xml)
            rss_start = rss_kib(server.proc.pid)
            port, seconds = server.sip_port, args.seconds
            started = time.monotonic()
            legit = subprocess.Popen(
                sipp_cmd(legit_xml, LEGITIMATE, args.legit_rate, legit_calls, port, seconds),
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            flood = subprocess.Popen(
                sipp_cmd(flood_xml, FLOODER, args.flood_rate, flood_calls, port, seconds),
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            flood.wait(timeout=seconds * 3 + 60)
            flood_elapsed = time.monotonic() - started
            legit.wait(timeout=seconds * 3 + 60)
            rss_end = rss_kib(server.proc.pid)
            records, hangups = (n - 1 for n in settled_flood_effects(server, web))  # warm-up
            _, flood_sent = read_stat(tmp, "flood")
            _, legit_ok = read_stat(tmp, "legit")
            _, to_final = read_rtt(tmp, "legit")
            bans = server.api("GET", "Security/Ban/")
            time.sleep(max(0.0, args.settle - (time.monotonic() - started - flood_elapsed)))
            rss_later = rss_kib(server.proc.pid)
        finally:
            server.stop()
            web.stop()
            nginx.terminate()
    p50, p99 = percentile(to_final, 50), percentile(to_final, 99)
    print(
        f"flood: {flood_sent} INVITEs from {FLOODER} in {flood_elapsed:.1f} s "
        f"({flood_sent / flood_elapsed:.0f}/s offered {args.flood_rate}/s)"
    )
    print(
        f"legitimate calls from {LEGITIMATE}: {legit_ok}/{legit_calls} got their 486 "
        f"({100 * legit_ok / legit_calls:.1f} %), INVITE->final p50 "
        f"{p50 or 0:.1f} ms, p99 {p99 or 0:.1f} ms"
    )
    share = 100 * (records + hangups) / max(flood_sent, 1)
    print(
        f"flood effects: {records} records + {hangups} hangup POSTs = {share:.2f} % "
        "of the flood's INVITEs"
    )
    print(
        f"bans: {[(b['source'], b['dropped']) for b in bans['objects']]}, "
        f"refused: {bans['refused'][:5]}"
    )
    print(
        f"resident memory (KiB): start {rss_start}, end of flood {rss_end}, "
        f"{args.settle:.0f} s after the flood {rss_later} "
        f"({100 * (rss_later - rss_start) / rss_start:+.1f} % from start)"
    )


if __name__ == "__main__":
    main()
