"""Prometheus metrics of one node (``GET /metrics``, docs/operations.md).

Each server has its own registry (tests run many servers in one process). Nothing
here runs per packet: counters move once per call, leg end or webhook request, and
what is already counted elsewhere (live calls, bans, the guard's refusals) is read
when the metrics are scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SETUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JITTER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


class LegStats(Protocol):
    """What a leg's RTP session reports when it ends (net/rtp_session.py)."""

    @property
    def packets_received(self) -> int: ...

    @property
    def packets_lost(self) -> int: ...

    @property
    def packets_late(self) -> int: ...

    @property
    def jitter_ms(self) -> float: ...


class _Totals(Collector):
    """A counter family read from ``totals()`` at scrape time (e.g. the guard's tally)."""

    def __init__(
        self, name: str, doc: str, label: str, totals: Callable[[], Mapping[str, int]]
    ) -> None:
        self.name, self.doc, self.label, self.totals = name, doc, label, totals

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.doc, labels=[self.label])
        for value, count in sorted(self.totals().items()):
            family.add_metric([value], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.calls_active = Gauge("callplane_calls_active", "Live calls on this node", registry=r)
        started = Counter(
            "callplane_calls_started", "Calls with a record", ["direction"], registry=r
        )
        self.inbound_started = started.labels("inbound")
        self.outbound_started = started.labels("outbound")
        self.calls_refused = Counter(
            "callplane_calls_refused",
            "INVITEs refused before or at screening, by cause",
            ["cause"],
            registry=r,
        )
        self.calls_ended = Counter(
            "callplane_calls_ended",
            "Calls ended, by hangup cause (Q.850 name)",
            ["cause"],
            registry=r,
        )
        self.call_setup = Histogram(
            "callplane_call_setup_seconds",
            "INVITE received to its first final response",
            buckets=SETUP_BUCKETS,
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "callplane_webhook_seconds",
            "Webhook request time, retries included",
            ["kind"],
            buckets=WEBHOOK_BUCKETS,
            registry=r,
        )
        self.webhook_requests = Counter(
            "callplane_webhook_requests",
            "Webhook requests by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.record_batch = Histogram(
            "callplane_record_batch_seconds",
            "Time to write one batch of call records and callback rows",
            buckets=WEBHOOK_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "callplane_callback_outbox_depth", "Callbacks waiting in the outbox", registry=r
        )
        self.rtp_received = Counter(
            "callplane_rtp_packets_received",
            "RTP packets received (counted at leg end)",
            registry=r,
        )
        self.rtp_lost = Counter(
            "callplane_rtp_packets_lost", "RTP packets lost (counted at leg end)", registry=r
        )
        self.rtp_late = Counter(
            "callplane_rtp_packets_late",
            "RTP packets that came after a newer one (counted at leg end)",
            registry=r,
        )
        self.rtp_jitter = Histogram(
            "callplane_rtp_jitter_seconds",
            "Interarrival jitter of a leg's inbound RTP at its end",
            buckets=JITTER_BUCKETS,
            registry=r,
        )
        self.bans_active = Gauge("callplane_bans_active", "Sources banned now", registry=r)
        self.draining = Gauge("callplane_node_draining", "1 while the node drains", registry=r)

    def count_guard(self, totals: Callable[[], Mapping[str, int]]) -> None:
        """Export the guard's refusals by kind (banned, pike, scanner, inbound_cps)."""
        self.registry.register(
            _Totals("callplane_guard_refusals", "Requests refused without a record", "kind", totals)
        )

    def webhook(self, kind: str, outcome: str, seconds: float) -> None:
        self.webhook_seconds.labels(kind).observe(seconds)
        self.webhook_requests.labels(kind, outcome).inc()

    def leg_ended(self, stats: LegStats) -> None:
        if stats.packets_received:
            self.rtp_received.inc(stats.packets_received)
            self.rtp_lost.inc(stats.packets_lost)
            self.rtp_late.inc(stats.packets_late)
            self.rtp_jitter.observe(stats.jitter_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
