"""The node's operations parts in memory: OPTIONS while draining, one metrics registry
per server, the node name and call UUID on JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from callplane.logs import CALL_UUID, JsonFormatter, NodeContext
from callplane.metrics import Metrics
from callplane.net.rtp_session import RtpSessionStats
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.message import Response, parse_message
from tests.sip.messages import request


def options_answer(endpoint: SipEndpoint, branch: str) -> Response:
    endpoint.receive(
        request("OPTIONS", branch, extra="Accept: application/sdp\r\n"),
        ("192.0.2.9", 5060),
        "UDP",
        0.0,
    )
    [(data, _, _)] = endpoint.outgoing()
    answer = parse_message(data)
    assert isinstance(answer, Response)
    return answer


def test_options_answers_503_with_retry_after_while_unavailable() -> None:
    endpoint = SipEndpoint()
    assert options_answer(endpoint, "z9hG4bK-probe-1").status == 200
    endpoint.unavailable = True
    answer = options_answer(endpoint, "z9hG4bK-probe-2")
    assert answer.status == 503
    assert answer.headers.get("Retry-After") == "60"


def test_each_server_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # the default registry would refuse the second
    first.inbound_started.inc()
    first.leg_ended(stats(received=100, lost=3, late=2, jitter_ms=12.0))
    assert b'callplane_calls_started_total{direction="inbound"} 1.0' in first.render()
    assert b"callplane_rtp_packets_lost_total 3.0" in first.render()
    assert b"callplane_rtp_packets_late_total 2.0" in first.render()
    assert b"callplane_rtp_jitter_seconds_count 1.0" in first.render()
    assert b'callplane_calls_started_total{direction="inbound"} 0.0' in second.render()


def test_guard_refusals_are_read_when_scraped() -> None:
    totals = {"pike": 2}
    metrics = Metrics()
    metrics.count_guard(lambda: totals)
    totals["banned"] = 5
    text = metrics.render().decode()
    assert 'callplane_guard_refusals_total{kind="banned"} 5.0' in text
    assert 'callplane_guard_refusals_total{kind="pike"} 2.0' in text


def stats(received: int, lost: int, late: int, jitter_ms: float) -> RtpSessionStats:
    return RtpSessionStats(
        local_port=20000,
        remote=None,
        packets_sent=0,
        octets_sent=0,
        packets_received=received,
        packets_lost=lost,
        packets_late=late,
        jitter_ms=jitter_ms,
        ignored_packets=0,
        malformed_packets=0,
        unknown_payload_packets=0,
        dtmf_received=0,
        rtcp_sent=0,
        rtcp_received=0,
        remote_fraction_lost=None,
        remote_jitter_ms=None,
        round_trip_ms=None,
        remote_bye=False,
    )


def test_json_lines_carry_the_node_and_the_call_of_the_task() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(NodeContext("node-7"))
    logger = logging.getLogger("callplane.test_ops")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def call_task() -> None:
        logger.info("inside the call")

    async def main() -> None:
        token = CALL_UUID.set("uuid-1")
        task = asyncio.get_running_loop().create_task(call_task())  # copies the context
        CALL_UUID.reset(token)
        logger.info("outside any call")
        await task

    try:
        asyncio.run(main())
    finally:
        logger.removeHandler(handler)
    lines = {entry["message"]: entry for entry in map(json.loads, out.getvalue().splitlines())}
    assert lines["inside the call"]["call_uuid"] == "uuid-1"
    assert "call_uuid" not in lines["outside any call"]
    assert {entry["node"] for entry in lines.values()} == {"node-7"}
