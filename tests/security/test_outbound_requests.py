"""The outbound request policy, end to end: `callplane serve`, real accounts, a real
"internal service" on 127.0.0.1 (the webhook server), SIPp callers.

The replays of issue 12, finding 7: a sub-account's flow HTTP Request node, answer
URL and Play URL must not reach loopback; nobody's may reach the API's own port or
the metadata address; a redirect to a refused address is refused; the operator's
``private_networks: allow`` lets a sub-account through.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from callplane.webhooks.ssrf import REFUSED
from tests.flows.examples import edge, node
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, Page, WebhookServer, sipp
from tests.interop.tones import write_tone

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp missing")

_numbers = itertools.count(15558120000)


@dataclass
class Tenant:
    """An account as its owner uses the API: its own credentials and paths."""

    callplane: CallplaneServer
    auth_id: str
    auth_token: str

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        base = f"http://127.0.0.1:{self.callplane.http_port}/v1/Account/{self.auth_id}/"
        response = httpx.request(
            method, base + path, auth=(self.auth_id, self.auth_token), timeout=10, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else {}


@pytest.fixture(scope="module")
def callplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallplaneServer]:
    server = CallplaneServer(tmp_path_factory.mktemp("callplane-ssrf")).start()
    yield server
    assert server.stop() == 0, server.logs()


@pytest.fixture(scope="module")
def internal() -> Iterator[WebhookServer]:
    """Stands for a service on the internal network (here: loopback)."""
    server = WebhookServer().start()
    yield server
    server.stop()


def main_account(callplane: CallplaneServer) -> Tenant:
    return Tenant(callplane, AUTH_ID, AUTH_TOKEN)


def sub_account(callplane: CallplaneServer, private_networks: str | None = None) -> Tenant:
    body: dict[str, Any] = {"name": f"tenant-{time.monotonic_ns()}", "enabled": True}
    if private_networks is not None:
        body["private_networks"] = private_networks
    made = callplane.api("POST", "Subaccount/", json=body)
    return Tenant(callplane, made["auth_id"], made["auth_token"])


def fetch_flow(url: str) -> dict[str, Any]:
    """Start (API request) -> HTTP Request GET ``url``."""
    return {
        "schema": 1,
        "name": "fetch",
        "nodes": [
            node("Start", "start"),
            node("Fetch", "http_request", method="GET", url=url, timeout=5),
        ],
        "edges": [edge("Start", "api_request", "Fetch")],
    }


def run_flow(tenant: Tenant, doc: dict[str, Any]) -> dict[str, Any]:
    """Create, publish and run ``doc`` as ``tenant``; the finished run with its log."""
    flow_id = tenant.api("POST", "Flow/", json={"document": doc})["flow_id"]
    tenant.api("POST", f"Flow/{flow_id}/Publish/")
    run_id = tenant.api("POST", f"Flow/{flow_id}/Run/", json={})["run_id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        run = tenant.api("GET", f"Flow/{flow_id}/Run/{run_id}/")
        if run["run_status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def node_result(run: dict[str, Any]) -> dict[str, Any]:
    """What the HTTP Request node logged: its response or its error."""
    [found] = [e for e in run["log"] if e["event"] in ("http_response", "http_error")]
    return found


def test_flow_http_request_of_a_sub_account_cannot_read_loopback(
    callplane: CallplaneServer, internal: WebhookServer
) -> None:
    secret = internal.set("/admin/sub", '{"secret": "s3cr3t"}', "application/json")
    result = node_result(run_flow(sub_account(callplane), fetch_flow(secret)))
    assert result == {**result, "event": "http_error", "error": REFUSED}
    assert internal.seen("/admin/sub") == []


def test_flow_http_request_of_the_main_account_reaches_loopback(
    callplane: CallplaneServer, internal: WebhookServer
) -> None:
    url = internal.set("/admin/main", '{"ok": true}', "application/json")
    result = node_result(run_flow(main_account(callplane), fetch_flow(url)))
    assert result["event"] == "http_response" and result["status_code"] == 200
    assert len(internal.seen("/admin/main")) == 1


def test_private_networks_allow_lets_a_sub_account_through(
    callplane: CallplaneServer, internal: WebhookServer
) -> None:
    tenant = sub_account(callplane, "allow")
    shown = callplane.api("GET", f"Subaccount/{tenant.auth_id}/")
    assert shown["private_networks"] == "allow"
    url = internal.set("/admin/allowed", '{"ok": true}', "application/json")
    result = node_result(run_flow(tenant, fetch_flow(url)))
    assert result["event"] == "http_response" and result["status_code"] == 200
    # ...and the operator can take it back.
    callplane.api("POST", f"Subaccount/{tenant.auth_id}/", json={"private_networks": "deny"})
    result = node_result(run_flow(tenant, fetch_flow(url)))
    assert result["error"] == REFUSED
    assert len(internal.seen("/admin/allowed")) == 1


def test_only_the_operator_sets_private_networks(callplane: CallplaneServer) -> None:
    tenant = sub_account(callplane)
    assert callplane.api("GET", f"Subaccount/{tenant.auth_id}/")["private_networks"] == "deny"
    with pytest.raises(httpx.HTTPStatusError) as refused:
        tenant.api("POST", "", json={"private_networks": "allow"})  # its own Account
    assert refused.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError) as forbidden:
        tenant.api("POST", f"Subaccount/{tenant.auth_id}/", json={"private_networks": "allow"})
    assert forbidden.value.response.status_code in (401, 403)
    assert callplane.api("GET", f"Subaccount/{tenant.auth_id}/")["private_networks"] == "deny"
    with pytest.raises(httpx.HTTPStatusError) as bad:
        callplane.api("POST", "Subaccount/", json={"name": "x", "private_networks": "maybe"})
    assert bad.value.response.status_code == 400
    assert "private_networks" in bad.value.response.json()["error"]


@pytest.mark.parametrize("who", ["main", "sub-allowed"])
def test_the_api_port_and_metadata_are_refused_for_everyone(
    callplane: CallplaneServer, who: str
) -> None:
    tenant = main_account(callplane) if who == "main" else sub_account(callplane, "allow")
    for url in (
        f"http://127.0.0.1:{callplane.http_port}/v1/openapi.json",
        f"http://localhost:{callplane.http_port}/v1/openapi.json",
        f"http://0.0.0.0:{callplane.http_port}/v1/openapi.json",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
    ):
        result = node_result(run_flow(tenant, fetch_flow(url)))
        assert result["event"] == "http_error" and result["error"] == REFUSED, url


def test_a_redirect_to_a_refused_address_is_refused(
    callplane: CallplaneServer, internal: WebhookServer
) -> None:
    api = f"http://127.0.0.1:{callplane.http_port}/v1/openapi.json"
    internal.pages["/hop"] = Page(b"", "text/plain", 302, headers={"Location": api})
    result = node_result(run_flow(main_account(callplane), fetch_flow(internal.url("/hop"))))
    assert result["event"] == "http_error" and result["error"] == REFUSED
    assert len(internal.seen("/hop")) == 1  # the allowed first hop was made


def call_number(tenant: Tenant, answer_url: str) -> str:
    """A new number of ``tenant`` whose application answers from ``answer_url``."""
    app = {"app_name": f"app-{time.monotonic_ns()}", "answer_url": answer_url}
    app_id = tenant.api("POST", "Application/", json=app)["app_id"]
    number = str(next(_numbers))
    tenant.api("POST", "Number/", json={"numbers": number, "app_id": app_id})
    return number


def last_call(tenant: Tenant) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        calls = tenant.api("GET", "Call/")["objects"]
        if calls and calls[0]["call_state"] != "RINGING":
            return tenant.api("GET", f"Call/{calls[0]['call_uuid']}/")
        time.sleep(0.05)
    raise AssertionError("no call record")


def test_answer_url_of_a_sub_account_cannot_reach_loopback(
    callplane: CallplaneServer, internal: WebhookServer, tmp_path: Path
) -> None:
    tenant = sub_account(callplane)
    answer = internal.set("/answer/sub", '<Response><Hangup reason="busy"/></Response>')
    number = call_number(tenant, answer)
    caller = sipp(tmp_path, "uac_final.xml", callplane.sip_port, to=number, code=500)
    assert caller.returncode == 0, caller.output
    assert internal.seen("/answer/sub") == []
    assert REFUSED in str(last_call(tenant))

    allowed = sub_account(callplane, "allow")
    number = call_number(
        allowed, internal.set("/answer/allowed", '<Response><Hangup reason="busy"/></Response>')
    )
    caller = sipp(tmp_path, "uac_final.xml", callplane.sip_port, to=number, code=486)
    assert caller.returncode == 0, caller.output


def test_answer_url_on_the_api_port_is_refused_for_the_main_account(
    callplane: CallplaneServer, tmp_path: Path
) -> None:
    tenant = main_account(callplane)
    number = call_number(tenant, f"http://127.0.0.1:{callplane.http_port}/v1/openapi.json")
    caller = sipp(tmp_path, "uac_final.xml", callplane.sip_port, to=number, code=500)
    assert caller.returncode == 0, caller.output
    assert REFUSED in str(last_call(tenant))


def play_flow(url: str) -> dict[str, Any]:
    """Start (incoming call) -> Play ``url``; the run then ends and the call is hung up."""
    return {
        "schema": 1,
        "name": "play",
        "nodes": [node("Start", "start"), node("Play", "play_audio", url=url, loop=1)],
        "edges": [edge("Start", "incoming_call", "Play")],
    }


@pytest.mark.parametrize(("private_networks", "reached"), [(None, False), ("allow", True)])
def test_play_url_of_a_sub_account(
    callplane: CallplaneServer,
    internal: WebhookServer,
    tmp_path: Path,
    private_networks: str | None,
    reached: bool,
) -> None:
    tenant = sub_account(callplane, private_networks)
    path = f"/audio/{tenant.auth_id}.wav"
    tone = write_tone(tmp_path / "tone.wav", 440, 0.2, amplitude=4000).read_bytes()
    audio = internal.set(path, tone, "audio/wav")
    flow_id = tenant.api("POST", "Flow/", json={"document": play_flow(audio)})["flow_id"]
    tenant.api("POST", f"Flow/{flow_id}/Publish/")
    number = str(next(_numbers))
    tenant.api("POST", "Number/", json={"numbers": number})
    tenant.api("POST", f"Number/{number}/", json={"flow_id": flow_id})
    caller = sipp(tmp_path, "uac_answer_bye.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert (len(internal.seen(path)) == 1) is reached
    assert (REFUSED in str(last_call(tenant))) is not reached
