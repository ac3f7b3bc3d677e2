"""A conference whose members arrive on two nodes is one room (docs/cluster.md,
"Conferences spanning nodes"): two PJSUA2 phones, each playing its own tone, call
the same room, one on each node's own SIP port; what each phone recorded tells
whether it heard the other. The Conference REST API works through either node, and
an internal INVITE that no node signed is refused."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pjsua2 as pj
import pytest
import redis

from callplane.calls.room_invite import MemberInvite, member_headers
from callplane.cluster.local import LocalCluster
from callplane.markup.verbs import Conference
from callplane.sip.message import Response, parse_message
from tests.cluster.test_cluster import api, number_to
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, WebhookServer
from tests.interop.pjua import UserAgent
from tests.interop.test_conference import strength
from tests.interop.tones import write_tone

pytestmark = pytest.mark.serial

ROOM = "standup"
NUMBER = "15557900001"


@pytest.fixture(scope="module")
def phone() -> Iterator[UserAgent]:
    ua = UserAgent()
    yield ua
    live = [call for call in ua.calls if not call.log.disconnected]  # a failed test's
    for call in live:
        call.hangup(pj.CallOpParam())
    ua.finish(live)
    ua.close()


@pytest.fixture(scope="module", autouse=True)
def room_number(cluster: LocalCluster, web: WebhookServer) -> None:
    events, after = web.url("/room/events"), web.url("/room/after")
    web.set("/room/after", "<Response><Hangup/></Response>")
    document = (
        f'<Response><Conference timeLimit="60" callbackUrl="{events}" action="{after}">'
        f"{ROOM}</Conference></Response>"
    )
    number_to(cluster, web, NUMBER, "/room/answer", document)


def members(cluster: LocalCluster, node: int) -> list[dict[str, Any]]:
    port = cluster.nodes[node].http_port
    url = f"http://127.0.0.1:{port}/v1/Account/{AUTH_ID}/Conference/{ROOM}/"
    response = httpx.get(url, auth=(AUTH_ID, AUTH_TOKEN), timeout=10)
    return response.json()["members"] if response.status_code == 200 else []


def polling(phone: UserAgent, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Wait for ``check`` while the phone's events are handled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        phone.poll(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_members_on_two_nodes_hear_each_other_and_are_controlled_through_either_node(
    cluster: LocalCluster, web: WebhookServer, phone: UserAgent, tmp_path: Path
) -> None:
    heard = {hz: tmp_path / f"heard-{hz}.wav" for hz in (440, 1000)}
    first = phone.call(
        NUMBER,
        cluster.nodes[0].sip_port,
        record_to=heard[440],
        play=write_tone(tmp_path / "440.wav", 440, 20),
    )
    polling(phone, lambda: len(members(cluster, 0)) == 1, "the first member on node 1")
    second = phone.call(
        NUMBER,
        cluster.nodes[1].sip_port,
        record_to=heard[1000],
        play=write_tone(tmp_path / "1000.wav", 1000, 20),
    )
    # one room, owned by node 1: both nodes list both members
    for node in (0, 1):
        listed = polling(
            phone, lambda n=node: (m := members(cluster, n)) and len(m) == 2 and m, f"node {node}"
        )
    assert api(cluster, 1, "GET", "Conference/")["conferences"] == [ROOM]
    remote = next(m for m in listed if m["member_id"] == "2")
    with redis.Redis.from_url(cluster.redis_url, decode_responses=True) as state:
        assert state.get(f"callplane:room:{AUTH_ID}:{ROOM}") == "node-1"
        assert state.hget("callplane:owner", remote["call_uuid"]) == "node-2"
    assert remote["from"] and remote["to"] == NUMBER
    entered = web.wait_for("/room/events", count=2)
    assert {r.params["ConferenceAction"] for r in entered} == {"enter"}
    assert len({r.params["ConferenceUUID"] for r in entered}) == 1
    assert remote["call_uuid"] in {r.params["CallUUID"] for r in entered}
    phone.poll(3)  # both talk

    # a kick sent to node 2 reaches node 1, which owns the room; the member's call
    # goes on with its document on node 2 (the action URL: hang up)
    path = f"Conference/{ROOM}/Member/{remote['member_id']}/Kick/"
    api(cluster, 1, "POST", path)
    polling(phone, lambda: second.log.disconnected, "the kicked member's call to end")
    for node in (0, 1):
        polling(phone, lambda n=node: len(members(cluster, n)) == 1, f"one member on node {node}")
    after = web.wait_for("/room/after")[0].params
    assert after["CallUUID"] == remote["call_uuid"]
    assert (after["ConferenceAction"], after["ConferenceMemberID"]) == ("exit", "2")

    api(cluster, 1, "DELETE", f"Conference/{ROOM}/")  # through node 2: hangs up member 1
    phone.finish([first, second])
    assert strength(heard[440], 1000) > 10 * strength(heard[440], 440)
    assert strength(heard[1000], 440) > 10 * strength(heard[1000], 1000)
    with redis.Redis.from_url(cluster.redis_url, decode_responses=True) as state:
        polling(
            phone,
            lambda: state.get(f"callplane:room:{AUTH_ID}:{ROOM}") is None,
            "the room released",
        )


def test_a_remote_member_leaves_when_its_caller_hangs_up_and_is_hung_up_through_the_api(
    cluster: LocalCluster, web: WebhookServer, phone: UserAgent
) -> None:
    """And between the two, a Redis restart: the owner claims its open room again."""
    calls = []
    for node in (0, 1):
        calls.append(phone.call(NUMBER, cluster.nodes[node].sip_port))
        polling(phone, lambda n=node: len(members(cluster, 0)) == n + 1, f"member {node + 1}")
    calls[1].hangup(pj.CallOpParam())  # the remote member's caller: the internal leg ends
    polling(phone, lambda: len(members(cluster, 0)) == 1, "the remote member gone")
    cluster.restart_redis()  # the owner claims its room again, with its lease
    with redis.Redis.from_url(cluster.redis_url, decode_responses=True) as state:
        key = f"callplane:room:{AUTH_ID}:{ROOM}"
        polling(
            phone,
            lambda: (
                state.get(key) == "node-1"
                and state.exists("callplane:node:node-1", "callplane:node:node-2") == 2
            ),
            "the room re-published",
        )
    calls.append(phone.call(NUMBER, cluster.nodes[1].sip_port))
    polling(phone, lambda: len(members(cluster, 0)) == 2, "a new remote member")
    continued = len(web.seen("/room/after"))
    api(cluster, 1, "DELETE", f"Conference/{ROOM}/")
    phone.finish(calls)
    assert members(cluster, 0) == members(cluster, 1) == []
    assert len(web.seen("/room/after")) == continued  # hung up: no document goes on


def send_invite(port: int, headers: tuple[tuple[str, str], ...]) -> Response:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        local = sock.getsockname()[1]
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        data = (
            f"INVITE sip:conference@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:intruder@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
            "To: <sip:conference@127.0.0.1>\r\n"
            f"Call-ID: {secrets.token_hex(8)}@127.0.0.1\r\n"
            "CSeq: 1 INVITE\r\n"
            f"Contact: <sip:intruder@127.0.0.1:{local}>\r\n"
            f"{extra}Content-Length: 0\r\n\r\n"
        ).encode()
        sock.sendto(data, ("127.0.0.1", port))
        while True:
            message = parse_message(sock.recv(65535))
            if isinstance(message, Response) and message.status >= 200:
                return message


def test_an_internal_invite_no_node_signed_is_refused(cluster: LocalCluster) -> None:
    member = MemberInvite(
        AUTH_ID, Conference(ROOM), "uuid", "1555", NUMBER, "inbound", "", {}, "", "node-9"
    )
    forged = member_headers(member, b"not the cluster secret", time.time())
    for headers in (forged, forged[:1]):  # signed with another secret; unsigned
        assert send_invite(cluster.nodes[0].sip_port, headers).status == 403
    stale = member_headers(member, cluster.secret.encode(), time.time() - 600)
    assert send_invite(cluster.nodes[0].sip_port, stale).status == 403
    assert members(cluster, 0) == []
