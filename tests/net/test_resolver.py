"""net/resolver.py against a real DNS server on loopback (tests/net/dns_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callplane.net.resolver import (
    ResolutionError,
    Resolver,
    Target,
    is_ip_literal,
    parse_nameservers,
    read_hosts,
)
from tests.net.dns_server import DnsServer

ZONE = {
    ("pbx-a.test", "A"): [(60, "127.0.0.11")],
    ("pbx-b.test", "A"): [(60, "127.0.0.12")],
    ("pbx-b.test", "AAAA"): [(60, "::1")],
    ("_sip._udp.trunk.test", "SRV"): [(30, "20 0 5070 pbx-a.test."), (30, "10 0 5080 pbx-b.test.")],
    ("trunk.test", "A"): [(60, "127.0.0.99")],
    ("naptr.test", "NAPTR"): [
        (60, '10 10 "S" "SIP+D2T" "" _sip._tcp.naptr.test.'),
        (60, '20 10 "S" "SIP+D2U" "" _sip._udp.naptr.test.'),
    ],
    ("_sip._udp.naptr.test", "SRV"): [(60, "10 0 5090 pbx-a.test.")],
    ("_sip._tcp.naptr.test", "SRV"): [(60, "10 0 5091 pbx-b.test.")],
    ("plain.test", "A"): [(5, "127.0.0.13")],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    server = await DnsServer.start(ZONE)
    yield server
    server.close()


def _resolver(dns: DnsServer, clock: Clock | None = None, **kwargs: object) -> Resolver:
    return Resolver([dns.address], hosts_file=None, timeout=2.0, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


async def test_srv_targets_in_priority_order(dns: DnsServer) -> None:
    resolver = _resolver(dns)
    targets = await resolver.targets("trunk.test", 0, "UDP")
    assert targets[0] == Target("127.0.0.12", 5080)  # priority 10 before 20
    assert Target("::1", 5080) in targets
    assert targets[-1] == Target("127.0.0.11", 5070)


async def test_naptr_picks_the_transport_then_srv(dns: DnsServer) -> None:
    resolver = _resolver(dns)
    assert (await resolver.targets("naptr.test", 0, "UDP"))[0] == Target("127.0.0.11", 5090)
    assert (await resolver.targets("naptr.test", 0, "TCP"))[0] == Target("127.0.0.12", 5091)


async def test_no_srv_falls_back_to_a_on_5060(dns: DnsServer) -> None:
    assert await _resolver(dns).targets("plain.test", 0) == [Target("127.0.0.13", 5060)]


async def test_a_port_given_skips_naptr_and_srv(dns: DnsServer) -> None:
    assert await _resolver(dns).targets("trunk.test", 5062) == [Target("127.0.0.99", 5062)]
    assert dns.queries[("trunk.test", "NAPTR")] == 0


async def test_answers_are_cached_for_their_ttl(dns: DnsServer) -> None:
    clock = Clock()
    resolver = _resolver(dns, clock)
    assert resolver.cached("plain.test", 5060) is None
    await resolver.targets("plain.test", 5060)
    assert resolver.cached("plain.test", 5060) == [Target("127.0.0.13", 5060)]
    await resolver.targets("plain.test", 5060)
    assert dns.queries[("plain.test", "A")] == 1
    clock.now += 6  # past the 5 s TTL
    assert resolver.cached("plain.test", 5060) is None
    await resolver.targets("plain.test", 5060)
    assert dns.queries[("plain.test", "A")] == 2


async def test_concurrent_asks_share_one_lookup(dns: DnsServer) -> None:
    resolver = _resolver(dns)
    results = await asyncio.gather(*(resolver.targets("plain.test", 5060) for _ in range(5)))
    assert all(r == [Target("127.0.0.13", 5060)] for r in results)
    assert dns.queries[("plain.test", "A")] == 1


async def test_failures_are_cached_briefly_and_bounded(dns: DnsServer) -> None:
    clock = Clock()
    resolver = _resolver(dns, clock, negative_ttl=10.0, negative_cache_size=2)
    for _ in range(2):
        with pytest.raises(ResolutionError):
            await resolver.targets("missing.test", 5060)
    assert dns.queries[("missing.test", "A")] == 1
    assert resolver.cached("missing.test", 5060) == []
    for name in ("gone-1.test", "gone-2.test"):  # the oldest failure leaves the cache
        with pytest.raises(ResolutionError):
            await resolver.targets(name, 5060)
    assert resolver.cached("missing.test", 5060) is None
    clock.now += 11
    assert resolver.cached("gone-2.test", 5060) is None


async def test_no_server_answering_fails_and_is_cached() -> None:
    silent = await DnsServer.start({})
    silent.close()  # nothing listens on its port any more
    resolver = Resolver([silent.address], hosts_file=None, timeout=0.3)
    with pytest.raises(ResolutionError):
        await resolver.targets("pbx.test", 5060)
    assert resolver.cached("pbx.test", 5060) == []


async def test_literals_hosts_file_and_invalid_ask_no_server(
    dns: DnsServer, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.21 phone.example.com phone # a comment\n::1 v6.local\n")
    resolver = Resolver([dns.address], hosts_file=hosts)
    assert await resolver.targets("phone.example.com", 5062) == [Target("127.0.0.21", 5062)]
    assert await resolver.targets("PHONE", 0) == [Target("127.0.0.21", 5060)]
    assert await resolver.targets("192.0.2.1", 0) == [Target("192.0.2.1", 5060)]
    with pytest.raises(ResolutionError):
        await resolver.targets("bad.invalid", 5060)
    assert sum(dns.queries.values()) == 0
    assert read_hosts(tmp_path / "none") == {}


def test_literals_and_nameserver_specs() -> None:
    assert is_ip_literal("127.0.0.1") and is_ip_literal("2001:db8::1")
    assert not is_ip_literal("1.example.com") and not is_ip_literal("[::1]")
    assert parse_nameservers("127.0.0.1:5353, 192.0.2.53,[::1]:54") == [
        ("127.0.0.1", 5353),
        ("192.0.2.53", 53),
        ("::1", 54),
    ]
    with pytest.raises(ValueError, match=r"ns\.example\.com"):
        parse_nameservers("ns.example.com")
