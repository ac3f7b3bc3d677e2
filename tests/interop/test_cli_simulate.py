"""The CLI as a user runs it, against a running server: `callplane call simulate`
places a real SIP call; `calls live` / `calls hangup` and `recordings` follow."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer


def cli(
    server: CallplaneServer, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CALLPLANE_AUTH_ID": AUTH_ID,
        "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN,
        "CALLPLANE_API_URL": f"http://127.0.0.1:{server.http_port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "callplane", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_simulate_prints_sip_codes_webhooks_and_verbs(callplane, web: WebhookServer) -> None:
    action = web.set("/sim/digits", "<Response><Hangup/></Response>")
    document = (
        f'<Response><GetInput action="{action}" numDigits="2">'
        "<Speak>Two digits please.</Speak></GetInput></Response>"
    )
    callplane.number("15552220001", callplane.application(web.set("/sim/answer", document)))
    result = cli(
        callplane,
        "call",
        "simulate",
        "--to",
        "15552220001",
        "--sip-port",
        str(callplane.sip_port),
        "--digits",
        "42",
        "--hangup-after",
        "10",
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "<- 100 Trying" in out and "<- 200 OK" in out and "-> ACK" in out
    assert "BYE (Callplane hung up)" in out
    assert "/sim/answer -> 200" in out and "verb GetInput" in out
    assert "/sim/digits -> 200" in out and "verb Reject" in out  # a first Hangup refuses
    assert web.wait_for("/sim/digits")[0].params["Digits"] == "42"


def test_simulate_a_refused_call(callplane, web: WebhookServer) -> None:
    callplane.number(
        "15552220002",
        callplane.application(web.set("/sim/busy", "<Response><Hangup reason='busy'/></Response>")),
    )
    result = cli(
        callplane, "call", "simulate", "--to", "15552220002", "--sip-port", str(callplane.sip_port)
    )
    assert "<- 486 Busy Here" in result.stdout, result.stdout + result.stderr
    assert "busy, Busy Line (Answer XML)" in result.stdout


def test_calls_live_and_hangup(callplane, web: WebhookServer) -> None:
    callplane.number(
        "15552220003",
        callplane.application(
            web.set("/sim/long", '<Response><Speak loop="0">Still here.</Speak></Response>')
        ),
    )
    caller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callplane",
            "call",
            "simulate",
            "--to",
            "15552220003",
            "--sip-port",
            str(callplane.sip_port),
            "--hangup-after",
            "20",
        ],
        env={
            **os.environ,
            "CALLPLANE_AUTH_ID": AUTH_ID,
            "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN,
            "CALLPLANE_API_URL": f"http://127.0.0.1:{callplane.http_port}",
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        uuid = ""
        for _ in range(50):
            live = cli(callplane, "--json", "calls", "live")
            if '"call_uuid"' in live.stdout:
                uuid = live.stdout.split('"call_uuid": "')[1].split('"')[0]
                break
            time.sleep(0.2)
        assert uuid, live.stdout + live.stderr
        assert cli(callplane, "calls", "hangup", uuid).returncode == 0
        out, _ = caller.communicate(timeout=20)
        assert "BYE (Callplane hung up)" in out
    finally:
        caller.kill()
    assert "no recording 'nope'" in cli(callplane, "recordings", "show", "nope").stderr
