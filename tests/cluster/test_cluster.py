"""Two nodes behind Kamailio on one PostgreSQL database, with Redis for live state:
calls spread over both, a caller's BYE reaches the node that owns the call, any node
lists and controls any live call, a Redis restart is survived, and a node killed with
SIGKILL while calls pour in costs no new call (Kamailio fails over) and its live
calls get their records from the survivor. The tests run in this order (the last
one kills node-1)."""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from callplane.cluster.local import LocalCluster
from callplane.sip.auth import digest_flow
from callplane.sip.message import Request, Response, build_response, parse_message
from callplane.store.ids import twilio_call_sid
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, WebhookServer, sipp, sipp_start

# Node loss is shown under a steady 50 calls/s: run alone (.ci/run's serial part).
pytestmark = pytest.mark.serial

REFUSE = '<Response><Hangup reason="busy"/></Response>'
HOLD = '<Response><Wait length="25"/></Response>'


def api(cluster: LocalCluster, node: int, method: str, path: str, **kwargs: Any) -> Any:
    port = cluster.nodes[node].http_port
    url = f"http://127.0.0.1:{port}/v1/Account/{AUTH_ID}/{path}"
    response = httpx.request(method, url, auth=(AUTH_ID, AUTH_TOKEN), timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else {}


def number_to(cluster: LocalCluster, web: WebhookServer, number: str, path: str, doc: str) -> None:
    """A number whose answer URL serves ``doc``, configured through node 1."""
    url = web.set(path, doc)
    body = {"app_name": f"app-{number}", "answer_url": url, "hangup_url": web.url("/hangup")}
    app_id = api(cluster, 0, "POST", "Application/", json=body)["app_id"]
    api(cluster, 0, "POST", "Number/", json={"numbers": number, "app_id": app_id})
    # Other nodes reload on PostgreSQL's NOTIFY, milliseconds later; a write through a
    # node reloads that node before it answers, so after these the number routes there.
    for node in range(1, len(cluster.nodes)):
        api(cluster, node, "POST", f"Application/{app_id}/", json={"answer_url": url})


def contact_ports(traces: str) -> set[int]:
    """Ports in the Contact of the 200s to INVITEs SIPp received: the nodes that answered."""
    lines = r"(?:[^\r\n]+\r?\n)*?"  # more header lines of the same message
    contact = r"Contact: <sip:(?:[^@>]*@)?127\.0\.0\.1:(\d+)"
    found = re.findall(
        r"SIP/2\.0 200 OK\r?\n" + lines + r"CSeq: 1 INVITE\r?\n" + lines + contact, traces
    )
    return {int(port) for port in found}


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def live(cluster: LocalCluster, node: int) -> set[str]:
    return set(api(cluster, node, "GET", "Call/", params={"status": "live"})["calls"])


@pytest.fixture(scope="module", autouse=True)
def calls_per_second(cluster: LocalCluster) -> None:
    """The account's limit (10 calls/s by default) holds across the nodes: these tests
    send more, and are not about it (test_limits.py is)."""
    for node in range(len(cluster.nodes)):  # a write through a node reloads it at once
        api(cluster, node, "POST", "", json={"inbound_cps": 1000})


@pytest.fixture(scope="module")
def state(cluster: LocalCluster) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
    yield client
    client.close()


def owner(state: redis.Redis, call_uuid: str) -> str | None:
    return state.hget("callplane:owner", call_uuid)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def hold_number(cluster: LocalCluster, web: WebhookServer) -> str:
    number_to(cluster, web, "15550002003", "/hold", HOLD)
    return "15550002003"


@pytest.fixture
def held_calls(
    cluster: LocalCluster, hold_number: str, workdir: Path
) -> Iterator[Callable[[int], tuple[subprocess.Popen[str], set[str]]]]:
    """Start ``n`` answered calls that stay up (Wait 25); their uuids, once live."""
    callers: list[subprocess.Popen[str]] = []
    seen: set[str] = set()

    def start(n: int) -> tuple[subprocess.Popen[str], set[str]]:
        before = live(cluster, 1) | seen
        caller = sipp_start(
            workdir, "uac_answer_bye.xml", cluster.layout.sip_port, calls=n, rate=20,
            timeout=40, to=hold_number,
        )  # fmt: skip
        callers.append(caller)

        def started() -> set[str]:
            new = live(cluster, 1) - before
            return new if len(new) >= n else set()

        new = wait_until(started, what=f"{n} held calls listed live")
        seen.update(new)
        return caller, new

    yield start
    for caller in callers:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


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


def test_any_node_lists_and_hangs_up_any_live_call(
    cluster: LocalCluster, web: WebhookServer, state: redis.Redis, held_calls: Any
) -> None:
    caller, uuids = held_calls(4)
    assert live(cluster, 0) >= uuids and live(cluster, 1) >= uuids  # cluster-wide lists
    owners = {uuid: owner(state, uuid) for uuid in uuids}
    assert set(owners.values()) <= {"node-1", "node-2"}, owners
    for n, (uuid, name) in enumerate(owners.items()):
        other = 1 if name == "node-1" else 0  # the node that does not run the call
        shown = api(cluster, other, "GET", f"Call/{uuid}/", params={"status": "live"})
        assert shown["call_uuid"] == uuid
        if n % 2:  # Twilio's call update, also through the other node
            port = cluster.nodes[other].http_port
            path = f"/2010-04-01/Accounts/{AUTH_ID}/Calls/{twilio_call_sid(uuid)}.json"
            ended = httpx.post(
                f"http://127.0.0.1:{port}{path}",
                data={"Status": "completed"},
                auth=(AUTH_ID, AUTH_TOKEN),
                timeout=10,
            )
            assert ended.status_code == 200, ended.text
        else:
            api(cluster, other, "DELETE", f"Call/{uuid}/")
    assert caller.wait(20) == 0, "SIPp did not get its BYEs"
    ended = {r.params["CallUUID"]: r.params for r in web.wait_for("/hangup", count=16)}
    for uuid in uuids:
        assert ended[uuid]["HangupSource"] == "API Request", ended.get(uuid)


def test_a_redis_restart_is_survived(
    cluster: LocalCluster, web: WebhookServer, state: redis.Redis, workdir: Path, held_calls: Any
) -> None:
    caller, uuids = held_calls(2)
    cluster.restart_redis()
    # every node publishes itself and its live calls again within a lease tick
    wait_until(
        lambda: (
            all(owner(state, uuid) for uuid in uuids)
            and state.exists("callplane:node:node-1", "callplane:node:node-2") == 2
        ),
        what="the nodes to re-publish after the restart",
    )
    for uuid in uuids:
        other = 1 if owner(state, uuid) == "node-1" else 0
        api(cluster, other, "DELETE", f"Call/{uuid}/")
    assert caller.wait(20) == 0, "SIPp did not get its BYEs"
    result = sipp(
        workdir, "uac_caller_bye.xml", cluster.layout.sip_port, calls=4, rate=20,
        to="15550002001", hold_ms=100,
    )  # fmt: skip
    assert result.returncode == 0, result.output


def test_a_phone_registered_through_kamailio_is_called_through_it_from_any_node(
    cluster: LocalCluster, web: WebhookServer
) -> None:
    """REGISTER through Kamailio gets a Path; the node that took it echoes it and shares
    the binding through Redis; a call placed on any node reaches the phone through
    Kamailio (Route = Path), as RFC 3327 wants."""
    username, password = f"reg{secrets.token_hex(4)}", secrets.token_hex(8)
    body = {"username": username, "password": password, "alias": "cluster phone"}
    api(cluster, 0, "POST", "Endpoint/", json=body)
    front = ("127.0.0.1", cluster.layout.sip_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(1)
        local = phone.getsockname()[1]
        flow = digest_flow(register(front[1], local, username), username, password)
        request = next(flow)
        while True:
            phone.sendto(bytes(request), front)
            response = final_response(phone)
            try:
                request = flow.send(response)
            except StopIteration as stop:
                response = stop.value
                break
        assert response.status == 200, bytes(response)
        (path,) = response.headers.get_all("Path")
        assert f"127.0.0.1:{front[1]}" in path and "received=" in path, path
        call = {"from": "14155550100", "to": f"sip:{username}@127.0.0.1:9",
                "answer_url": web.set("/registered", HOLD)}  # fmt: skip
        seen: set[str] = set()
        for node in range(len(cluster.nodes)):
            # the node that did not take the REGISTER mirrors the binding from Redis a
            # moment later: until then its call goes to the URI as written (port 9)
            invite = wait_until(
                lambda node=node: place_and_receive(cluster, node, call, phone, seen),
                timeout=15,
                what=f"an INVITE placed on node {node + 1}",
            )
            assert invite.uri == f"sip:{username}@127.0.0.1:{local}"
            top = invite.headers.get("Via") or ""
            assert f"127.0.0.1:{front[1]}" in top, f"not through Kamailio: {top}"
            busy = build_response(invite, 486, to_tag=secrets.token_hex(4))
            phone.sendto(bytes(busy), front)


def place_and_receive(
    cluster: LocalCluster, node: int, call: dict[str, str], phone: socket.socket, seen: set[str]
) -> Request | None:
    """POST /Call/ on ``node``; the new INVITE the phone gets within a second, if any."""
    api(cluster, node, "POST", "Call/", json=call)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            message = parse_message(phone.recv(65535))
        except TimeoutError:
            return None
        fresh = isinstance(message, Request) and message.call_id not in seen  # not resent
        if fresh and isinstance(message, Request) and message.method == "INVITE":
            seen.add(message.call_id)
            return message
    return None


def register(front_port: int, local_port: int, username: str) -> Request:
    data = (
        f"REGISTER sip:127.0.0.1:{front_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{username}@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{username}@127.0.0.1>\r\n"
        f"Call-ID: {secrets.token_hex(8)}@127.0.0.1\r\n"
        "CSeq: 1 REGISTER\r\n"
        f"Contact: <sip:{username}@127.0.0.1:{local_port}>\r\n"
        "Expires: 300\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def final_response(sock: socket.socket) -> Response:
    while True:
        message = parse_message(sock.recv(65535))
        if isinstance(message, Response) and message.status >= 200:
            return message


def test_a_killed_node_costs_no_new_call_and_its_calls_are_closed(
    cluster: LocalCluster, web: WebhookServer, state: redis.Redis, workdir: Path, held_calls: Any
) -> None:
    on_node_1: set[str] = set()
    for _ in range(5):  # Call-ID hashing decides; a few calls put some on node-1
        _, uuids = held_calls(4)
        on_node_1 |= {uuid for uuid in uuids if owner(state, uuid) == "node-1"}
        if on_node_1:
            break
    assert on_node_1, "no held call landed on node-1"
    number_to(cluster, web, "15550002002", "/refuse", REFUSE)
    rate, seconds = 50, 4
    load = sipp_start(
        workdir, "uac_final.xml", cluster.layout.sip_port, calls=rate * seconds, rate=rate,
        timeout=30, code=486, to="15550002002",
    )  # fmt: skip
    web.wait_for("/refuse", count=rate, timeout=20)  # a second of calls is flowing
    cluster.kill_node(cluster.nodes[0])
    assert load.wait(40) == 0, "SIPp saw failed calls while node-1 was killed"
    front_log = (cluster.data_dir / "kamailio" / "kamailio.log").read_text()
    killed = f"node sip:127.0.0.1:{cluster.nodes[0].sip_port} failed (408)"
    assert killed in front_log, "no call met the dead node: the test proved nothing"

    def closed() -> dict[str, dict[str, str]]:
        hangups = {r.params["CallUUID"]: r.params for r in web.seen("/hangup")}
        return {u: hangups[u] for u in on_node_1} if on_node_1 <= hangups.keys() else {}

    for params in wait_until(closed, timeout=20, what="node-1's calls closed").values():
        assert params["HangupCauseName"] == "Node Lost", params
    for uuid in on_node_1:
        record = api(cluster, 1, "GET", f"Call/{uuid}/")
        assert record["hangup_cause_name"] == "Node Lost", record
    assert not (live(cluster, 1) & on_node_1)
