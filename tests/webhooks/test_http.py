"""The HTTP layer under WebhookClient: redirects, timeouts, body cap, keep-alive reuse."""

from __future__ import annotations

import asyncio
import base64
import gzip
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from plivo.utils.signature_v3 import validate_v3_signature
from recording_server import DOCUMENT, Recorder, Reply
from twilio.request_validator import RequestValidator

from callplane.errors import WebhookError
from callplane.webhooks import WebhookClient, WebhookResponse
from callplane.webhooks.ssrf import Reach

TOKEN = "MzQ5ZjVlYjQ0ZmU2N2YwOTg1NmNmYjQ2ZWY0ZmUz"
PARAMS = {"CallUUID": "c0ffee", "From": "14155550100"}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s" % (
    len(DOCUMENT),
    DOCUMENT,
)


# --- keep-alive reuse and servers that close connections ---------------------------------


async def test_sequential_fetches_reuse_one_connection(
    server: Recorder, client: WebhookClient
) -> None:
    for _ in range(5):
        await client.fetch(server.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert len({seen.peer for seen in server.seen("/answer")}) == 1


async def test_server_closing_after_each_response(server: Recorder, client: WebhookClient) -> None:
    server.default = Reply(close=True)  # no "Connection: close": the client finds out itself
    for _ in range(5):
        response = await client.fetch(
            server.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
        )
        assert response.body == DOCUMENT
    assert len({seen.peer for seen in server.seen("/answer")}) == 5


# Reply: bytes to send, None to close without replying, "reset" to close with a TCP RST.
Script = Callable[[int, int], bytes | str | None]


@dataclass
class RawServer:
    """A scripted HTTP/1.1 server in the test's event loop: ``script(connection, request)``."""

    script: Script
    port: int = 0
    connections: int = 0
    requests: list[tuple[int, bytes]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        connection, served = self.connections, 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.partition(b":")[2])
                body = await reader.readexactly(length)
                served += 1
                self.requests.append((connection, head + body))
                reply = self.script(connection, served)
                if reply is None:
                    break
                if reply == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                assert isinstance(reply, bytes)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[RawServer]:
    raw = RawServer(script)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        for writer in raw.writers:  # ends the handlers still waiting for a request
            writer.close()
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("how", [None, "reset"])
async def test_stale_keepalive_connection_retried_once(
    client: WebhookClient, how: str | None
) -> None:
    """The server drops a kept-alive connection just as the next request arrives."""

    def script(connection: int, request: int) -> bytes | str | None:
        return OK if request == 1 else how

    async with raw_server(script) as raw:
        for _ in range(3):
            response = await client.fetch(
                raw.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE
            )
            assert response.body == DOCUMENT
    # 1st: new connection; 2nd and 3rd: stale connection dropped, retried on a new one.
    assert raw.connections == 3
    assert [connection for connection, _ in raw.requests] == [1, 1, 2, 2, 3]


async def test_stale_notify_retried_once(client: WebhookClient) -> None:
    def script(connection: int, request: int) -> bytes | str | None:
        return OK if request == 1 else None

    async with raw_server(script) as raw:
        for _ in range(2):
            assert await client.notify(
                raw.url("/hangup"), "POST", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE
            )
    assert len(client.outbox.all()) == 0  # type: ignore[attr-defined]
    assert raw.connections == 2


@pytest.mark.parametrize("how", [None, "reset"])
async def test_fresh_connection_dropped_is_a_failure(
    client: WebhookClient, how: str | None
) -> None:
    async with raw_server(lambda connection, request: how) as raw:
        with pytest.raises(WebhookError) as caught:
            await client.fetch(raw.url("/answer"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None
    assert raw.connections == 1  # not retried: the server is broken, not the pool


# --- redirects -----------------------------------------------------------------------------


async def test_302_redirect_turns_post_into_get(server: Recorder, client: WebhookClient) -> None:
    server.plan("/old", Reply(status=302, headers=(("Location", "/answer?moved=1"),)))
    response = await client.fetch(server.url("/old"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert (response.status, response.body) == (200, DOCUMENT)
    assert response.url == server.url("/answer?moved=1")
    [seen] = server.seen("/answer")
    assert (seen.method, seen.body) == ("GET", b"")
    assert "content-length" not in seen.headers
    # signed again, as the GET it became, for the URL it went to
    assert validate_v3_signature(
        "GET",
        server.url("/answer?moved=1"),
        seen.headers["x-plivo-signature-v3-nonce"],
        TOKEN,
        seen.headers["x-plivo-signature-v3"],
    )


async def test_307_redirect_keeps_post_and_body(server: Recorder, client: WebhookClient) -> None:
    server.plan("/old", Reply(status=307, headers=(("Location", server.url("/answer")),)))
    response = await client.fetch(server.url("/old"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    assert response.url == server.url("/answer")
    [seen] = server.seen("/answer")
    assert seen.method == "POST"
    assert parse_qs(seen.body.decode()) == {k: [v] for k, v in PARAMS.items()}
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_redirect_loop_is_cut_short(server: Recorder, client: WebhookClient) -> None:
    server.default = Reply(status=302, headers=(("Location", "/loop"),))
    with pytest.raises(WebhookError, match="redirects") as caught:
        await client.fetch(server.url("/loop"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None
    assert len(server.seen("/loop")) == 6  # the request and 5 redirects


async def test_redirect_limit_is_configurable(server: Recorder) -> None:
    server.default = Reply(status=301, headers=(("Location", "/loop"),))
    small = WebhookClient(max_redirects=1)
    try:
        with pytest.raises(WebhookError, match="redirects"):
            await small.fetch(server.url("/loop"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    finally:
        await small.aclose()
    assert len(server.seen("/loop")) == 2


async def test_redirect_without_location_is_a_failure(
    server: Recorder, client: WebhookClient
) -> None:
    server.plan("/answer", Reply(status=302))
    with pytest.raises(WebhookError) as caught:
        await client.fetch(server.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status == 302


async def test_redirect_to_unsupported_scheme(server: Recorder, client: WebhookClient) -> None:
    server.plan("/answer", Reply(status=302, headers=(("Location", "ftp://127.0.0.1/x"),)))
    with pytest.raises(WebhookError, match="invalid URL") as caught:
        await client.fetch(server.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None


# --- timeouts ------------------------------------------------------------------------------


@contextmanager
def _full_backlog() -> Iterator[int]:
    """A port whose accept queue is full, so that connecting hangs until it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        yield listener.getsockname()[1]
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_connect_timeout_from_fragment(client: WebhookClient) -> None:
    with _full_backlog() as port:
        started = time.monotonic()
        with pytest.raises(WebhookError, match="connect timeout") as caught:
            await client.fetch(
                f"http://127.0.0.1:{port}/answer#ct=200", "GET", {}, TOKEN, reach=Reach.PRIVATE
            )
        assert time.monotonic() - started < 0.8
    assert caught.value.status is None


async def test_read_timeout_in_the_middle_of_a_body(client: WebhookClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<Response>"
    async with raw_server(lambda connection, request: head) as raw:
        started = time.monotonic()
        with pytest.raises(WebhookError, match="no response: read timeout") as caught:
            await client.fetch(raw.url("/answer#rt=200"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
        assert time.monotonic() - started < 0.8
    assert caught.value.status is None


# --- bodies and URLs -----------------------------------------------------------------------


async def test_chunked_body_over_cap(server: Recorder) -> None:
    chunk = b"x" * 600
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2
        + b"0\r\n\r\n"
    )
    small = WebhookClient(max_body=1024)
    try:
        async with raw_server(lambda connection, request: reply) as raw:
            with pytest.raises(WebhookError, match="body over"):
                await small.fetch(raw.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
            small._max_body = 2048
            response = await small.fetch(raw.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    finally:
        await small.aclose()
    assert response.body == chunk * 2


async def test_gzip_body_is_decoded(server: Recorder, client: WebhookClient) -> None:
    server.plan(
        "/answer", Reply(body=gzip.compress(DOCUMENT), headers=(("Content-Encoding", "gzip"),))
    )
    response = await client.fetch(server.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    assert response.body == DOCUMENT
    assert server.seen("/answer")[0].headers["accept-encoding"] == "gzip"


async def test_gzip_bomb_stops_at_the_cap(server: Recorder) -> None:
    bomb = gzip.compress(b"x" * (4 << 20))  # 4 MiB -> ~4 KiB on the wire
    server.plan("/answer", Reply(body=bomb, headers=(("Content-Encoding", "gzip"),)))
    small = WebhookClient(max_body=1 << 20)
    try:
        with pytest.raises(WebhookError, match="body over"):
            await small.fetch(server.url("/answer"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    finally:
        await small.aclose()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///no-host", "127.0.0.1/x"])
async def test_invalid_url(client: WebhookClient, url: str) -> None:
    with pytest.raises(WebhookError, match="invalid URL") as caught:
        await client.fetch(url, "GET", {}, TOKEN, reach=Reach.PRIVATE)
    assert caught.value.status is None


async def test_credentials_in_url_sent_as_basic_auth(
    server: Recorder, client: WebhookClient
) -> None:
    url = server.url("/answer").replace("://", "://ops:p%40ss@")
    await client.fetch(url, "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/answer")
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"ops:p@ss").decode()
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"


async def test_path_is_percent_encoded(server: Recorder, client: WebhookClient) -> None:
    await client.fetch(server.url("/an swer/é?x=a b"), "GET", {}, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/an%20swer/%C3%A9")
    assert seen.path == "/an%20swer/%C3%A9?x=a%20b"


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-keyout", key, "-out", cert,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("use_uvloop", [False, True])
def test_https_with_keepalive(self_signed: tuple[str, str], use_uvloop: bool) -> None:
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def main() -> tuple[list[WebhookResponse], RawServer, str]:
        raw = RawServer(lambda connection, request: OK)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0, ssl=context)
        raw.port = server.sockets[0].getsockname()[1]
        url = f"https://127.0.0.1:{raw.port}/answer"
        insecure = WebhookClient(verify=False)
        checked = WebhookClient()  # verifies: a self-signed certificate is refused
        try:
            responses = [
                await insecure.fetch(url, "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
                for _ in range(3)
            ]
            with pytest.raises(WebhookError, match="cannot connect") as caught:
                await checked.fetch(url, "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
        finally:
            await insecure.aclose()
            await checked.aclose()
            server.close()
            for writer in raw.writers:
                writer.close()
            await asyncio.sleep(0.01)
        return responses, raw, str(caught.value)

    if use_uvloop:
        uvloop = pytest.importorskip("uvloop")
        responses, raw, refused = uvloop.run(main())
    else:
        responses, raw, refused = asyncio.run(main())
    assert [r.body for r in responses] == [DOCUMENT] * 3
    assert raw.connections == 1  # kept alive for the 3 fetches (the refused one never got in)
    assert "CERTIFICATE_VERIFY_FAILED" in refused


# --- Twilio's signature --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_requests_carry_a_twilio_signature_the_sdk_accepts(
    server: Recorder, client: WebhookClient, method: str
) -> None:
    await client.fetch(server.url("/answer?app=7"), method, PARAMS, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/answer")
    form = {k: v[0] for k, v in parse_qs(seen.body.decode(), keep_blank_values=True).items()}
    validator = RequestValidator(TOKEN)
    assert validator.validate(server.url(seen.path), form, seen.headers["x-twilio-signature"])
    assert not validator.validate(server.url("/answer"), form, seen.headers["x-twilio-signature"])


async def test_callbacks_carry_a_twilio_signature(server: Recorder, client: WebhookClient) -> None:
    assert await client.notify(
        server.url("/status"), "POST", PARAMS, TOKEN, auth_id="MA1", reach=Reach.PRIVATE
    )
    [seen] = server.seen("/status")
    form = {k: v[0] for k, v in parse_qs(seen.body.decode(), keep_blank_values=True).items()}
    assert RequestValidator(TOKEN).validate(
        server.url("/status"), form, seen.headers["x-twilio-signature"]
    )


@pytest.mark.parametrize(("status", "method"), [(302, "GET"), (307, "POST")])
async def test_each_redirect_hop_has_a_twilio_signature_for_its_url(
    server: Recorder, client: WebhookClient, status: int, method: str
) -> None:
    server.plan("/old", Reply(status=status, headers=(("Location", "/answer?moved=1"),)))
    await client.fetch(server.url("/old"), "POST", PARAMS, TOKEN, reach=Reach.PRIVATE)
    [seen] = server.seen("/answer")
    assert seen.method == method
    form = {k: v[0] for k, v in parse_qs(seen.body.decode(), keep_blank_values=True).items()}
    assert RequestValidator(TOKEN).validate(
        server.url("/answer?moved=1"), form, seen.headers["x-twilio-signature"]
    )
