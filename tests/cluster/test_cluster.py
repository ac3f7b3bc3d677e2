"""Two nodes behind Kamailio on one PostgreSQL database: calls spread over both, a
caller's BYE reaches the node that owns the call, and a node killed with SIGKILL
while calls pour in costs no new call (Kamailio fails over to the survivor)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from callplane.cluster.local import LocalCluster
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, WebhookServer, sipp, sipp_start

REFUSE = '<Response><Hangup reason="busy"/></Response>'


def api(cluster: LocalCluster, node: int, method: str, path: str, **kwargs: object) -> dict:
    port = cluster.nodes[node].http_port
    url = f"http://127.0.0.1:{port}/v1/Account/{AUTH_ID}/{path}"
    response = httpx.request(method, url, auth=(AUTH_ID, AUTH_TOKEN), timeout=10, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return response.json() if response.content else {}


def number_to(cluster: LocalCluster, web: WebhookServer, number: str, path: str, doc: str) -> None:
    """A number whose answer URL serves ``doc``, configured through node 1 only."""
    url = web.set(path, doc)
    body = {"app_name": f"app-{number}", "answer_url": url, "hangup_url": web.url("/hangup")}
    app_id = api(cluster, 0, "POST", "Application/", json=body)["app_id"]
    api(cluster, 0, "POST", "Number/", json={"numbers": number, "app_id": app_id})


def contact_ports(traces: str) -> set[int]:
    """Ports in the Contact of the 200s SIPp received: the nodes that answered."""
    headers = r"SIP/2\.0 200 OK\r?\n(?:[^\r\n]+\r?\n)*?"  # one message's header lines
    contact = r"Contact: <sip:(?:[^@>]*@)?127\.0\.0\.1:(\d+)"
    found = re.findall(headers + r"CSeq: 1 INVITE\r?\n(?:[^\r\n]+\r?\n)*?" + contact, traces)
    return {int(port) for port in found}


def test_calls_spread_over_both_nodes_and_the_callers_bye_reaches_the_owner(
    cluster: LocalCluster, web: WebhookServer, workdir: Path
) -> None:
    number_to(cluster, web, "15550002001", "/spread", '<Response><Wait length="1"/></Response>')
    result = sipp(
        workdir, "uac_caller_bye.xml", cluster.layout.sip_port, calls=12, rate=20,
        to="15550002001", hold_ms=300,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    assert contact_ports(result.output) == {node.sip_port for node in cluster.nodes}
    hangups = web.wait_for("/hangup", count=12, timeout=20)
    causes = {r.params["HangupCause"] for r in hangups if r.params["To"] == "15550002001"}
    assert causes == {"NORMAL_CLEARING"}, [r.params for r in hangups]


def test_a_killed_node_costs_no_new_call(
    cluster: LocalCluster, web: WebhookServer, workdir: Path
) -> None:
    number_to(cluster, web, "15550002002", "/refuse", REFUSE)
    rate, seconds = 50, 4
    caller = sipp_start(
        workdir, "uac_final.xml", cluster.layout.sip_port, calls=rate * seconds, rate=rate,
        timeout=30, code=486, to="15550002002",
    )  # fmt: skip
    web.wait_for("/refuse", count=rate, timeout=20)  # a second of calls is flowing
    cluster.kill_node(cluster.nodes[0])
    assert caller.wait(40) == 0, "SIPp saw failed calls while node-1 was killed"
    front_log = (cluster.data_dir / "kamailio" / "kamailio.log").read_text()
    killed = f"node sip:127.0.0.1:{cluster.nodes[0].sip_port} failed (408)"
    assert killed in front_log, "no call met the dead node: the test proved nothing"
