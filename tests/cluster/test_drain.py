"""Draining a node behind Kamailio (its own cluster: the drained node exits). SIGTERM
to the node that owns a live call while SIPp offers new calls through Kamailio: no
new call fails (the node answers INVITEs and OPTIONS probes with 503 and Kamailio
sends the calls to the other node), the live call's BYE still reaches the draining
node and the call ends normally, and the node then exits with status 0."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis

from callplane.cluster.local import LocalCluster
from tests.cluster.test_cluster import REFUSE, live, number_to, owner, wait_until
from tests.interop.harness import WebhookServer, sipp_start

pytestmark = pytest.mark.serial

HOLD = '<Response><Wait length="60"/></Response>'


def test_a_draining_node_costs_no_call_and_finishes_its_live_call(
    cluster: LocalCluster, web: WebhookServer, workdir: Path
) -> None:
    number_to(cluster, web, "15550003001", "/drain-hold", HOLD)
    number_to(cluster, web, "15550003002", "/drain-refuse", REFUSE)
    state = redis.Redis.from_url(cluster.redis_url, decode_responses=True)
    held = sipp_start(
        workdir, "uac_caller_bye.xml", cluster.layout.sip_port, calls=1, timeout=60,
        to="15550003001", hold_ms=10000,
    )  # fmt: skip
    try:
        (uuid,) = wait_until(lambda: live(cluster, 0), what="the held call listed live")
        name = wait_until(lambda: owner(state, uuid), what="the held call's owner")
    finally:
        state.close()
    drained = next(node for node in cluster.nodes if node.name == name)
    assert drained.proc is not None
    rate, seconds = 40, 4
    load = sipp_start(
        workdir, "uac_final.xml", cluster.layout.sip_port, calls=rate * seconds, rate=rate,
        timeout=40, code=486, to="15550003002",
    )  # fmt: skip
    web.wait_for("/drain-refuse", count=rate // 2, timeout=20)  # calls are flowing
    drained.proc.send_signal(signal.SIGTERM)
    assert load.wait(50) == 0, "SIPp saw failed calls while a node drained"
    assert drained.proc.poll() is None, "the node exited with a call still live"
    assert held.wait(30) == 0, "the held call's BYE did not get its 200"
    assert drained.proc.wait(30) == 0, drained.log_path.read_text()[-3000:]
    (hangup,) = wait_until(
        lambda: [r.params for r in web.seen("/hangup") if r.params["CallUUID"] == uuid],
        what="the held call's hangup callback",
    )
    assert hangup["HangupCause"] == "NORMAL_CLEARING", hangup
    front_log = (cluster.data_dir / "kamailio" / "kamailio.log").read_text()
    refused = f"node sip:127.0.0.1:{drained.sip_port} failed (503)"
    assert refused in front_log, "no new call met the draining node: the test proved nothing"
