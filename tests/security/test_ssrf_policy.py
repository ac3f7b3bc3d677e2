"""The outbound request policy in process: the address table, and each fetcher against a
real HTTP server on 127.0.0.1 that stands for an internal service."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from callplane.errors import WebhookError
from callplane.media.errors import FetchError
from callplane.media.fetch import AudioFetcher
from callplane.webhooks import MemoryOutbox, WebhookClient
from callplane.webhooks.ssrf import REFUSED, OutboundPolicy, Reach, RefusedURL
from tests.interop.harness import WebhookServer
from tests.interop.tones import write_tone

TOKEN = "token-0123456789"
DOCUMENT = "<Response><Hangup/></Response>"


@pytest.fixture
def internal() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("address", "public", "private"),
    [
        ("93.184.216.34", True, True),
        ("2606:2800:220:1:248:1893:25c8:1946", True, True),
        ("127.0.0.1", False, True),
        ("127.5.6.7", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("172.16.0.1", False, True),
        ("192.168.1.1", False, True),
        ("100.64.0.1", False, True),
        ("0.0.0.0", False, True),
        ("fc00::1", False, True),
        ("224.0.0.1", False, True),
        ("240.0.0.1", False, True),
        ("::ffff:10.0.0.1", False, True),
        ("169.254.169.254", False, False),
        ("169.254.1.1", False, False),
        ("::ffff:169.254.169.254", False, False),
        ("fe80::1", False, False),
        ("fd00:ec2::254", False, False),
        ("64:ff9b::a9fe:a9fe", False, False),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", False, True),  # NAT64 of 127.0.0.1
        ("2002:a00:1::1", False, True),  # 6to4 of 10.0.0.1
        ("64:ff9b::5db8:d822", True, True),  # NAT64 of a public address
    ],
)
def test_address_table(address: str, public: bool, private: bool) -> None:
    policy = OutboundPolicy()
    found = ipaddress.ip_address(address)
    assert policy.allows(found, 80, Reach.PUBLIC) is public
    assert policy.allows(found, 80, Reach.PRIVATE) is private


def test_own_port_is_refused_on_local_addresses_only() -> None:
    policy = OutboundPolicy(own_ports=[8080])
    for local in ("127.0.0.1", "127.0.0.2", "0.0.0.0", "::1"):
        assert not policy.allows(ipaddress.ip_address(local), 8080, Reach.PRIVATE), local
    assert policy.allows(ipaddress.ip_address("127.0.0.1"), 8081, Reach.PRIVATE)
    assert policy.allows(ipaddress.ip_address("93.184.216.34"), 8080, Reach.PUBLIC)


async def test_names_are_checked_after_resolution() -> None:
    policy = OutboundPolicy()
    with pytest.raises(RefusedURL):
        await policy.resolve("localhost", 80, Reach.PUBLIC)
    assert "127.0.0.1" in await policy.resolve("localhost", 80, Reach.PRIVATE)
    with pytest.raises(socket.gaierror):
        await policy.resolve("no-such-host.invalid", 80, Reach.PRIVATE)


async def test_webhook_refused_before_any_traffic(internal: WebhookServer) -> None:
    url = internal.set("/answer", DOCUMENT)
    outbox = MemoryOutbox()
    client = WebhookClient(outbox=outbox, outbox_delay=0.0)
    try:
        with pytest.raises(WebhookError) as refused:
            await client.fetch(url, "POST", {}, TOKEN, reach=Reach.PUBLIC)
        assert str(refused.value) == f"{url}: {REFUSED}"  # nothing about the target
        assert not await client.notify(url, "POST", {}, TOKEN, auth_id="SA1", reach=Reach.PUBLIC)
        assert outbox.all() == []  # a refusal is final: not queued for retries
        assert internal.requests == []
        response = await client.fetch(url, "POST", {}, TOKEN, reach=Reach.PRIVATE)
        assert response.status == 200
    finally:
        await client.aclose()


async def test_a_pooled_connection_is_not_shared_across_reaches(internal: WebhookServer) -> None:
    """The main account's keep-alive connection to an internal host must not carry a
    sub-account's request."""
    url = internal.set("/answer", DOCUMENT)
    client = WebhookClient()
    try:
        assert (await client.fetch(url, "GET", {}, TOKEN, reach=Reach.PRIVATE)).status == 200
        with pytest.raises(WebhookError, match=REFUSED):
            await client.fetch(url, "GET", {}, TOKEN, reach=Reach.PUBLIC)
        assert len(internal.requests) == 1
    finally:
        await client.aclose()


async def test_metadata_and_own_port_refused_for_the_main_account(
    internal: WebhookServer,
) -> None:
    port = internal.httpd.server_address[1]
    client = WebhookClient(policy=OutboundPolicy(own_ports=[port]))
    try:
        for url in (internal.url("/x"), "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(WebhookError, match=REFUSED):
                await client.fetch(url, "GET", {}, TOKEN, reach=Reach.PRIVATE)
        assert internal.requests == []
    finally:
        await client.aclose()


async def test_audio_cached_for_the_main_account_is_not_served_to_a_sub_account(
    internal: WebhookServer, tmp_path: Path
) -> None:
    tone = write_tone(tmp_path / "tone.wav", 440, 0.2, amplitude=4000).read_bytes()
    url = internal.set("/tone.wav", tone, "audio/wav")
    internal.pages["/tone.wav"].headers["Cache-Control"] = "max-age=3600"
    async with AudioFetcher(tmp_path / "cache") as audio:
        assert (await audio.fetch(url, reach=Reach.PRIVATE)).size > 0
        with pytest.raises(FetchError, match=REFUSED):
            await audio.fetch(url, reach=Reach.PUBLIC)
    assert len(internal.requests) == 1


class PinnedNames(OutboundPolicy):
    """A resolver that knows one name no DNS server knows: if a fetcher looked the name
    up again after the check (as a rebinding attack relies on), it would fail."""

    async def resolve(self, host: str, port: int, reach: Reach) -> list[str]:
        if host == "rebind.invalid":
            return ["127.0.0.1"]
        return await super().resolve(host, port, reach)


async def test_connections_go_to_the_checked_address(
    internal: WebhookServer, tmp_path: Path
) -> None:
    port = internal.httpd.server_address[1]
    internal.set("/answer", DOCUMENT)
    tone = write_tone(tmp_path / "tone.wav", 440, 0.2, amplitude=4000).read_bytes()
    internal.set("/tone.wav", tone, "audio/wav")
    client = WebhookClient(policy=PinnedNames())
    try:
        url = f"http://rebind.invalid:{port}/answer"
        assert (await client.fetch(url, "GET", {}, TOKEN, reach=Reach.PRIVATE)).status == 200
    finally:
        await client.aclose()
    async with AudioFetcher(tmp_path / "cache", policy=PinnedNames()) as audio:
        url = f"http://rebind.invalid:{port}/tone.wav"
        assert (await audio.fetch(url, reach=Reach.PRIVATE)).size > 0
    hosts = {seen.headers["Host"] for seen in internal.requests}
    assert hosts == {f"rebind.invalid:{port}"}
