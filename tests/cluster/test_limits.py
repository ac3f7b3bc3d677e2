"""Limits held across the nodes of a cluster through Redis (control/cluster_limits.py):
an account's calls-per-second limit counts the calls sent to both nodes, and a source
one node bans is dropped by the other. Calls and floods go to the nodes directly (a
node's own limits apply to real sources), so the nodes here run with their per-source
limit on (``--pike-threshold``)."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callplane.cluster.local import LocalCluster
from tests.cluster.conftest import running_cluster
from tests.cluster.test_cluster import REFUSE, api, number_to, wait_until
from tests.interop.harness import WebhookServer, sipp_start

pytestmark = pytest.mark.serial

PIKE = 150  # requests per 2 s from one source before a node bans it (SIPp sends 80)
FLOODER = "127.0.0.5"  # another loopback address stands for another host


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with running_cluster(tmp_path_factory, ("--pike-threshold", str(PIKE))) as running:
        yield running


def test_an_accounts_calls_per_second_hold_over_calls_sent_to_both_nodes(
    cluster: LocalCluster, web: WebhookServer, workdir: Path
) -> None:
    limit, rate, seconds = 5, 20, 3
    for node in range(len(cluster.nodes)):  # a write through a node reloads it at once
        api(cluster, node, "POST", "", json={"inbound_cps": limit})
    number_to(cluster, web, "15550004001", "/cps", REFUSE)
    began = time.time()
    loads = [
        sipp_start(workdir, "uac_final.xml", node.sip_port, calls=rate * seconds, rate=rate,
                   timeout=40, code=486, to="15550004001")
        for node in cluster.nodes
    ]  # fmt: skip
    try:
        for load in loads:  # let through (the application refuses) or over the limit: 486
            assert load.wait(50) == 0, "SIPp saw an answer other than 486"
    finally:
        for load in loads:
            if load.poll() is None:
                load.kill()
                load.wait()
    windows = int(time.time()) - int(began) + 1  # one-second windows the calls met
    let_through = len(web.seen("/cps"))
    # each node alone lets through `limit` a second (and a burst of `limit`): together
    # about twice that. Shared counts let the limit through in each window, and a call
    # that arrives on both nodes within one sync interval (20 ms) may pass on each: the
    # two SIPps send in step, so the last call of a window can pass twice.
    most = (limit + 1) * windows
    assert limit <= let_through <= most, f"{let_through} let through in {windows} s windows"


def options(port: int, local: tuple[str, int]) -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{local[0]}>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:127.0.0.1:{port}>\r\n"
        f"Call-ID: {secrets.token_hex(8)}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def answers(sock: socket.socket, port: int, wait: float = 0.5) -> bool:
    """Whether the node on ``port`` answers an OPTIONS from ``sock`` within ``wait`` s."""
    sock.settimeout(wait)
    sock.sendto(options(port, sock.getsockname()), ("127.0.0.1", port))
    try:
        while True:
            data, _ = sock.recvfrom(65535)
            if data.startswith(b"SIP/2.0"):
                return True
    except TimeoutError:
        return False


def test_a_source_banned_on_one_node_is_dropped_by_the_other(cluster: LocalCluster) -> None:
    first, second = (node.sip_port for node in cluster.nodes)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flooder,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bystander,
    ):
        flooder.bind((FLOODER, 0))
        bystander.bind(("127.0.0.1", 0))
        assert answers(flooder, second, wait=5), "node-2 does not answer the source at all"
        for _ in range(PIKE * 2):  # over node-1's limit: node-1 bans the source
            flooder.sendto(options(first, flooder.getsockname()), ("127.0.0.1", first))
        wait_until(lambda: not answers(flooder, first), what="node-1 to ban the source")
        wait_until(lambda: not answers(flooder, second), what="node-2 to drop the source")
        assert answers(bystander, second, wait=5), "node-2 dropped everyone"
