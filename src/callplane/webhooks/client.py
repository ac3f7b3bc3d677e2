"""HTTP requests to customer URLs, signed as Plivo and Twilio sign them.

Two kinds of request (design.md section 4):

* :meth:`WebhookClient.fetch` - action URLs (answer, fallback, verb actions):
  the response is the next document. Failures raise :class:`WebhookError` so
  the caller can go to the fallback URL; retries only when the URL's fragment
  asks for them.
* :meth:`WebhookClient.notify` - callback URLs (hangup, status callbacks):
  written to the outbox before the first attempt, retried per policy, deleted
  from the outbox once delivered; what still fails waits there for the
  :class:`~callplane.webhooks.worker.OutboxWorker`. Never raises for HTTP
  failures. :meth:`~WebhookClient.prepare` and :meth:`~WebhookClient.deliver`
  are its two halves, for callers that write the row themselves (a hangup
  callback goes in its call record's transaction).

Requests go straight to httpcore (httpx's transport, same project): httpx's
client layer cost as much CPU per request as the HTTP exchange itself, and the
few things it did for us are done here - URL and form encoding, the ``Host``
header, redirects, gzip, a capped body read, and one transparent retry when a
pooled keep-alive connection turns out to have been closed by the server.
Sockets are plain asyncio protocols (:mod:`callplane.webhooks.transport`).
Every request names the account's :class:`~callplane.webhooks.ssrf.Reach`; each
reach has its own pools, whose backend resolves and checks every connection
(every redirect hop included) against the outbound request policy, so a
connection opened for one reach is never reused for another.
httpcore exceptions are translated into :class:`WebhookError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import ssl
import time
import uuid
import zlib
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, unquote, urljoin, urlsplit

import httpcore
import httpx

from callplane.errors import WebhookError
from callplane.store.models import PendingCallback
from callplane.webhooks import signing
from callplane.webhooks.observe import OBSERVER, RequestWatch, WebhookObserver
from callplane.webhooks.outbox import MemoryOutbox, OutboxSink, utcnow
from callplane.webhooks.policy import (
    CALLBACK_POLICY,
    CLIENT_ERROR,
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    SERVER_ERROR,
    Policy,
    action_policy,
    split_url,
)
from callplane.webhooks.signing import Params, SigningKeys
from callplane.webhooks.ssrf import REFUSED, OutboundPolicy, Reach
from callplane.webhooks.transport import AsyncioBackend, RefusedConnect, connections_opened

logger = logging.getLogger("callplane.webhooks")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_OTHER = "other"
_TOTAL = "tt"
_REFUSED = "refused"  # never retried, never queued
# A request's outcome as metrics name it (``observe``): "ok" or what the failure was.
_OUTCOMES = {CONNECT_TIMEOUT: "connect_timeout", READ_TIMEOUT: "read_timeout", _TOTAL: "timeout"}
# ``observe(kind, outcome, seconds)`` once per request, retries included.
Observer = Callable[[str, str, float], None]
_METHODS = frozenset({"GET", "POST"})
# httpcore's pool does O(connections) work per request; beyond ~10 connections
# a pool costs more than it saves, so requests go round-robin over small pools.
_PER_SHARD = 8
_SPREAD_AT = 2  # see WebhookClient._pick; measured with bench_fetch.py (1, 2, 4, 8)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left alone when percent-encoding a request target (as httpx does).
_SAFE = "!$&'()*+,;=:@/?%~[]"
# A response header: (lower-cased name, value).
_Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: bytes
    content_type: str
    url: str


@dataclass(frozen=True, slots=True)
class _Request:
    """One request as it goes on the wire, minus its per-attempt signature."""

    method: str
    url: str
    body: bytes = b""
    content_type: str = ""
    form: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback request: its outbox row and how it goes on the wire."""

    stored: PendingCallback
    request: _Request
    policy: Policy
    reach: Reach  # what the outbound request policy lets it reach
    kind: str = "callback"  # for the call inspector: hangup, status, callback...


@dataclass(frozen=True, slots=True)
class _Failure:
    kind: str  # policy.FAILURES member, "tt" or "other"
    error: WebhookError
    attempts: int = 1
    response: WebhookResponse | None = None  # a non-2xx answer, for the call inspector


class WebhookClient:
    """Keep-alive HTTP/1.1 connections to customer URLs, shared by all calls.

    The connections live in ``pool_shards`` httpcore pools (default: one per 8
    connections), because httpcore's pool does O(connections) work per request.
    A request goes to the current pool while it is nearly idle, then to the next
    one (:meth:`_Pools.pick`); see ``bench_fetch.py``. Each :class:`Reach` has
    its own pools, so a connection is only reused by requests of the reach it
    was checked for.
    """

    def __init__(
        self,
        *,
        user_agent: str = "Callplane",
        default_timeout: float = 5.0,
        max_connections: int = 200,
        outbox: OutboxSink | None = None,
        retry_backoff: float = 0.2,
        outbox_delay: float = 30.0,
        max_body: int = 1 << 20,
        max_redirects: int = 5,
        verify: bool = True,
        pool_shards: int | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.outbox: OutboxSink = outbox if outbox is not None else MemoryOutbox()
        self.observe: Observer | None = None  # metrics, set by the server
        self._action_defaults = action_policy(default_timeout)
        self._retry_backoff = retry_backoff
        self._outbox_delay = outbox_delay
        self._max_body = max_body
        self._max_redirects = max_redirects
        self._user_agent = user_agent.encode("latin-1")
        shards = max(1, min(pool_shards or max_connections // _PER_SHARD, max_connections))
        per_shard = max(1, max_connections // shards)
        tls = httpx.create_ssl_context(verify=verify)  # one context: building one costs ~20 ms
        checks = policy or OutboundPolicy()
        self._pools = {
            reach: _Pools(AsyncioBackend(checks, reach), tls, shards, per_shard) for reach in Reach
        }

    async def aclose(self) -> None:
        for pools in self._pools.values():
            await pools.aclose()

    async def fetch(
        self,
        url: str,
        method: str,
        params: Params,
        auth_token: str,
        *,
        reach: Reach,
        timeout: float | None = None,
        main_auth_token: str | None = None,
        kind: str = "action",
    ) -> WebhookResponse:
        """Request an action URL; return its 2xx response or raise WebhookError.
        ``kind`` names the request for the call inspector (answer, fallback, action)."""
        defaults = self._action_defaults if timeout is None else action_policy(timeout)
        target, policy = split_url(url, defaults)
        request = _form_request(_method(method), target, params)
        keys = SigningKeys(auth_token, main_auth_token)
        watch = _watch(OBSERVER.get(), kind, request, keys)
        result = await self._send(request, policy, keys, reach, "action", watch)
        if watch is not None:
            watch.done("failed" if isinstance(result, _Failure) else "ok")
        if isinstance(result, _Failure):
            raise result.error
        return result

    def prepare(
        self,
        url: str,
        method: str,
        params: Params | None,
        *,
        auth_id: str,
        reach: Reach,
        json_body: Mapping[str, Any] | None = None,
        kind: str = "callback",
    ) -> Callback:
        """A callback ready for the outbox and for :meth:`deliver`. Its row is due only
        after the first attempt (with the URL's retries) has had all its time: until
        then that attempt, not the outbox worker, is sending it."""
        target, policy = split_url(url, CALLBACK_POLICY)
        if json_body is not None:
            request = _json_request(_method(method), target, json_body)
        else:
            request = _form_request(_method(method), target, params or {})
        now = utcnow()
        fragment = url.partition("#")[2]
        stored = PendingCallback(
            callback_id=uuid.uuid4().hex,
            auth_id=auth_id,
            url=f"{request.url}#{fragment}" if fragment else request.url,
            method=request.method,
            body=request.body,
            content_type=request.content_type,
            headers={},
            attempts=0,
            next_attempt=now + timedelta(seconds=policy.total_timeout + self._outbox_delay),
            created=now,
        )
        return Callback(stored, request, policy, reach, kind)

    async def notify(
        self,
        url: str,
        method: str,
        params: Params | None,
        auth_token: str,
        *,
        auth_id: str,
        reach: Reach,
        json_body: Mapping[str, Any] | None = None,
        main_auth_token: str | None = None,
        kind: str = "callback",
    ) -> bool:
        """Deliver a callback, written to the outbox before the first attempt; True if
        delivered now, else it stays in the outbox for the worker (unless the outbound
        request policy refused it: that would not change)."""
        callback = self.prepare(
            url, method, params, auth_id=auth_id, reach=reach, json_body=json_body, kind=kind
        )
        await self.outbox.save(callback.stored)
        return await self.deliver(callback, SigningKeys(auth_token, main_auth_token))

    async def deliver(
        self, callback: Callback, keys: SigningKeys, observer: WebhookObserver | None = None
    ) -> bool:
        """The first attempt (with the URL's retries) at a callback already in the
        outbox: its row is deleted once delivered (or refused by the outbound request
        policy), else scheduled for the worker. ``observer``: who watches it (default:
        the task's, :data:`~callplane.webhooks.observe.OBSERVER`)."""
        watch = _watch(observer or OBSERVER.get(), callback.kind, callback.request, keys)
        result = await self._send(
            callback.request, callback.policy, keys, callback.reach, "callback", watch
        )
        if watch is not None:
            watch.done(_outcome(result))
        callback_id = callback.stored.callback_id
        if not isinstance(result, _Failure) or result.kind == _REFUSED:
            await self.outbox.delete(callback_id)
            return not isinstance(result, _Failure)
        when = utcnow() + timedelta(seconds=self._outbox_delay)
        await self.outbox.reschedule(callback_id, result.attempts, when)
        logger.warning(
            "callback queued for retry: %s",
            result.error,
            extra={"url": callback.request.url, "status": result.error.status},
        )
        return False

    async def resend(self, cb: PendingCallback, keys: SigningKeys, reach: Reach) -> bool:
        """One attempt at a stored callback, same body, fresh signature."""
        target, policy = split_url(cb.url, CALLBACK_POLICY)
        request = _stored_request(cb, target)
        result = await self._send(
            request, replace(policy, retry_count=0), keys, reach, "callback_retry"
        )
        return not isinstance(result, _Failure)

    async def _send(
        self,
        request: _Request,
        policy: Policy,
        keys: SigningKeys,
        reach: Reach,
        kind: str,
        watch: RequestWatch | None = None,
    ) -> WebhookResponse | _Failure:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await self._send_with_retries(request, policy, keys, reach, started, watch)
        if self.observe is not None:
            outcome = (
                _OUTCOMES.get(result.kind, result.kind) if isinstance(result, _Failure) else "ok"
            )
            self.observe(kind, outcome, loop.time() - started)
        return result

    async def _send_with_retries(
        self,
        request: _Request,
        policy: Policy,
        keys: SigningKeys,
        reach: Reach,
        started: float,
        watch: RequestWatch | None,
    ) -> WebhookResponse | _Failure:
        loop = asyncio.get_running_loop()
        deadline = started + policy.total_timeout
        attempt = 1
        while True:
            attempt_started = loop.time()
            result = await self._attempt_until(request, policy, keys, reach, deadline)
            if watch is not None:
                _report(watch, result, loop.time() - attempt_started)
            if not isinstance(result, _Failure):
                return result
            _log_failure(result, attempt)
            if not policy.should_retry(result.kind, attempt):
                return replace(result, attempts=attempt)
            delay = self._retry_backoff * 2.0 ** (attempt - 1)
            if loop.time() + delay >= deadline:
                return replace(result, attempts=attempt)
            await asyncio.sleep(delay)
            attempt += 1

    async def _attempt_until(
        self, request: _Request, policy: Policy, keys: SigningKeys, reach: Reach, deadline: float
    ) -> WebhookResponse | _Failure:
        try:
            async with asyncio.timeout_at(deadline):
                return await self._attempt(request, policy, keys, reach)
        except TimeoutError as exc:
            message = f"total timeout {policy.total_timeout:g}s"
            return _Failure(_TOTAL, _error(message, request.url, None, exc))

    async def _attempt(
        self, request: _Request, policy: Policy, keys: SigningKeys, reach: Reach
    ) -> WebhookResponse | _Failure:
        signed = signing.sign(request.method, request.url, request.form, keys)
        try:
            response = await self._exchange(request, signed, keys, _extensions(policy), reach)
        except _ERRORS as exc:
            return _translate(exc, request.url)
        return _check_status(response)

    async def _exchange(
        self,
        request: _Request,
        signed: dict[str, str],
        keys: SigningKeys,
        extensions: dict[str, Any],
        reach: Reach,
    ) -> WebhookResponse:
        """One request and the redirects it leads to (at most ``max_redirects``).

        Every hop is signed again (Plivo's V2/V3 and Twilio's) for its own URL, method
        and parameters: the validators of both SDKs check the URL the application was
        requested at."""
        method, url, form = request.method, request.url, request.form
        body = request.body if method != "GET" else None
        headers: list[tuple[bytes | str, bytes | str]] = [
            (b"User-Agent", self._user_agent),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", b"gzip"),
        ]
        if request.content_type:
            headers.append((b"Content-Type", request.content_type))
        target = _Target.parse(url)
        auth = target.origin.auth
        for _ in range(self._max_redirects + 1):
            hop = [(b"Host", target.origin.host_header), *headers, *signed.items()]
            if auth is not None:
                hop.append((b"Authorization", auth))
            if body is not None:
                hop.append((b"Content-Length", b"%d" % len(body)))
            status, found, content = await self._round_trip(
                method, target, hop, body or b"", extensions, self._pools[reach]
            )
            location = _header(found, b"location") if status in _REDIRECTS else None
            if location is None:
                content_type = _header(found, b"content-type") or ""
                return WebhookResponse(status, content, content_type, url)
            url = urljoin(url, location).partition("#")[0]
            after = _Target.parse(url)
            # Credentials go to the origin they were given for, as httpx does.
            auth = after.origin.auth or (auth if after.origin.same(target.origin) else None)
            target = after
            if status in (301, 302, 303) and method != "GET":
                method, body, form = "GET", None, {}
            signed = signing.sign(method, url, form, keys)
        raise _TooManyRedirects(f"more than {self._max_redirects} redirects")

    async def _round_trip(
        self,
        method: str,
        target: _Target,
        headers: list[tuple[bytes | str, bytes | str]],
        body: bytes,
        extensions: dict[str, Any],
        pools: _Pools,
    ) -> tuple[int, _Headers, bytes]:
        """One exchange; retried once if a reused keep-alive connection was found closed."""
        origin = target.origin
        outgoing = httpcore.Request(
            method,
            httpcore.URL(
                scheme=origin.scheme, host=origin.host, port=origin.port, target=target.path
            ),
            headers=headers,
            content=body,
            extensions=extensions,
        )
        shard = pools.pick()
        pool = pools.pool[shard]
        pools.busy[shard] += 1
        try:
            opened = connections_opened()
            try:
                response = await pool.handle_async_request(outgoing)
            except _STALE:
                if connections_opened() != opened:  # failed on a fresh connection: report it
                    raise
                response = await pool.handle_async_request(outgoing)
            try:
                found = [(name.lower(), value) for name, value in response.headers]
                content = await self._read(response, found)
            finally:
                await response.aclose()
        finally:
            pools.busy[shard] -= 1
        return response.status, found, content

    async def _read(self, response: httpcore.Response, headers: _Headers) -> bytes:
        limit = self._max_body
        encoding = _header(headers, b"content-encoding")
        gunzip = _Gunzip() if encoding in ("gzip", "x-gzip") else None
        chunks: list[bytes] = []
        size = 0
        stream = response.stream
        assert isinstance(stream, AsyncIterable)
        async for raw in stream:
            chunk = raw if gunzip is None else gunzip.decompress(raw, limit - size)
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(f"response body over {limit} bytes")
            chunks.append(chunk)
        if gunzip is not None:
            chunks.append(gunzip.decompress(b"", limit - size, final=True))
            if size + len(chunks[-1]) > limit:
                raise _BodyTooLarge(f"response body over {limit} bytes")
        return b"".join(chunks)


class _Pools:
    """The connection pools of one reach, and which of them takes the next request."""

    def __init__(
        self, backend: AsyncioBackend, tls: ssl.SSLContext, shards: int, per_shard: int
    ) -> None:
        self.pool = [
            httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=per_shard,
                max_keepalive_connections=per_shard,
                keepalive_expiry=30.0,
                http1=True,
                http2=False,
                network_backend=backend,
            )
            for _ in range(shards)
        ]
        self.spread = min(per_shard, _SPREAD_AT)
        self.busy = [0] * shards  # requests in flight per pool
        self.shard = 0

    def pick(self) -> int:
        """The pool to use: the current one while it has fewer than ``_SPREAD_AT`` requests
        in flight, else the next one that has (round-robin). Light traffic keeps to one
        connection; under load each pool serves a few requests at a time, cheaply."""
        shard, busy = self.shard, self.busy
        if busy[shard] < self.spread:
            return shard
        count = len(busy)
        for step in range(1, count + 1):
            candidate = (shard + step) % count
            if busy[candidate] < self.spread:
                break
        else:  # all busy: in turn (each pool queues beyond its own limit)
            candidate = (shard + 1) % count
        self.shard = candidate
        return candidate

    async def aclose(self) -> None:
        for http in self.pool:
            await http.aclose()


class _ClientError(Exception):
    """Raised inside the exchange so that it is translated like a transport error."""


class _BodyTooLarge(_ClientError):
    pass


class _TooManyRedirects(_ClientError):
    pass


class _InvalidURL(_ClientError):
    pass


_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    _ClientError,
)
# What a keep-alive connection closed by the server looks like when reused.
_STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: bytes
    host: bytes
    port: int
    host_header: bytes
    auth: bytes | None  # Basic credentials from the URL's userinfo

    def same(self, other: _Origin) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)


@dataclass(frozen=True, slots=True)
class _Target:
    origin: _Origin
    path: bytes  # path and query, percent-encoded

    @staticmethod
    def parse(url: str) -> _Target:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise _InvalidURL(f"invalid URL: no scheme in {url!r}")
        cut = len(rest)
        for mark in "/?":
            at = rest.find(mark)
            if 0 <= at < cut:
                cut = at
        path = rest[cut:]
        if not path.startswith("/"):
            path = "/" + path
        return _Target(_origin(scheme.lower(), rest[:cut]), quote(path, _SAFE).encode("ascii"))


@lru_cache(maxsize=1024)
def _origin(scheme: str, netloc: str) -> _Origin:
    if scheme not in _DEFAULT_PORTS:
        raise _InvalidURL(f"invalid URL: unsupported scheme {scheme!r}")
    userinfo, _, hostport = netloc.rpartition("@")
    try:
        parts = urlsplit(f"//{hostport}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _InvalidURL(f"invalid URL: {exc}") from exc
    if not host:
        raise _InvalidURL(f"invalid URL: no host in {netloc!r}")
    default = _DEFAULT_PORTS[scheme]
    try:
        host_bytes = host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host_bytes = host.encode("idna")
        except UnicodeError as exc:
            raise _InvalidURL(f"invalid URL: bad host {host!r}") from exc
    header = b"[%s]" % host_bytes if b":" in host_bytes else host_bytes
    if port is not None and port != default:
        header += b":%d" % port
    auth = None
    if userinfo:
        user, _, password = userinfo.partition(":")
        credentials = f"{unquote(user)}:{unquote(password)}".encode()
        auth = b"Basic " + base64.b64encode(credentials)
    return _Origin(scheme.encode(), host_bytes, port or default, header, auth)


def _header(headers: _Headers, name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class _Gunzip:
    """A gzip body, decompressed never more than ``room + 1`` bytes at a time: a bomb
    stops at the body cap."""

    def __init__(self) -> None:
        self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, data: bytes, room: int, *, final: bool = False) -> bytes:
        try:
            if final:
                return self._decoder.flush()
            return self._decoder.decompress(data, max(room, 0) + 1)
        except zlib.error as exc:
            raise _ClientError(f"invalid gzip body: {exc}") from exc


def _method(method: str) -> str:
    upper = method.upper()
    if upper not in _METHODS:
        raise ValueError(f"webhook method must be GET or POST, not {method!r}")
    return upper


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def form_encode(form: Mapping[str, list[str]]) -> str:
    """``urlencode(form, doseq=True)``, byte for byte, at a third of its cost: most
    names and values (ids, numbers, statuses) need no quoting, and urllib quotes
    every one through several Python calls (two requests per call, ~40 parameters)."""
    unreserved = _UNRESERVED.fullmatch
    return "&".join(
        f"{name if unreserved(name) else quote_plus(name)}="
        f"{value if unreserved(value) else quote_plus(value)}"
        for name, values in form.items()
        for value in values
    )


def _form_request(method: str, url: str, params: Params) -> _Request:
    form = signing.normalize(params)
    encoded = form_encode(form)
    if method == "GET":
        if encoded:
            url = f"{url}{'&' if '?' in url else '?'}{encoded}"
        return _Request(method, url)
    return _Request(method, url, encoded.encode(), FORM, form)


def _json_request(method: str, url: str, body: Mapping[str, Any]) -> _Request:
    if method != "POST":
        raise ValueError("a JSON callback must be sent with POST")
    encoded = json.dumps(body, separators=(",", ":")).encode()
    return _Request(method, url, encoded, JSON)


def _watch(
    observer: WebhookObserver | None, kind: str, request: _Request, keys: SigningKeys
) -> RequestWatch | None:
    if observer is None:
        return None
    return observer.request(
        kind,
        request.method,
        request.url,
        request.form,
        request.body,
        request.content_type,
        bool(keys.auth_token),
    )


def _outcome(result: WebhookResponse | _Failure) -> str:
    """A callback's first delivery: ok, queued for the worker, or failed for good."""
    if not isinstance(result, _Failure):
        return "ok"
    return "failed" if result.kind == _REFUSED else "queued"


def _report(watch: RequestWatch, result: WebhookResponse | _Failure, latency: float) -> None:
    started = time.time() - latency
    if isinstance(result, _Failure):
        error = result.error
        message = str(error).removeprefix(f"{error.url}: ")
        answer = result.response
        if answer is None:
            watch.attempt(started, latency, error.status, message, "", b"")
        else:
            watch.attempt(
                started, latency, answer.status, message, answer.content_type, answer.body
            )
    else:
        watch.attempt(started, latency, result.status, None, result.content_type, result.body)


def _stored_request(cb: PendingCallback, url: str) -> _Request:
    form: dict[str, list[str]] = {}
    if cb.method == "POST" and cb.content_type == FORM:
        form = parse_qs(cb.body.decode(), keep_blank_values=True)
    return _Request(cb.method, url, cb.body, cb.content_type, form)


@lru_cache(maxsize=256)
def _extensions(policy: Policy) -> dict[str, Any]:
    """httpcore's per-request timeouts; shared between requests, never mutated."""
    timeout = {
        "connect": policy.connect_timeout,
        "read": policy.read_timeout,
        "write": policy.read_timeout,
        "pool": policy.total_timeout,
    }
    return {"timeout": timeout}


def _check_status(response: WebhookResponse) -> WebhookResponse | _Failure:
    status = response.status
    if 200 <= status < 300:
        return response
    kind = SERVER_ERROR if status >= 500 else CLIENT_ERROR if status >= 400 else _OTHER
    return _Failure(kind, WebhookError(f"HTTP {status}", response.url, status), response=response)


def _translate(exc: Exception, url: str) -> _Failure:
    if isinstance(exc, RefusedConnect):
        return _Failure(_REFUSED, WebhookError(REFUSED, url, None))
    if isinstance(exc, httpcore.ConnectTimeout):
        return _Failure(CONNECT_TIMEOUT, _error("connect timeout", url, None, exc))
    if isinstance(exc, httpcore.ConnectError):
        return _Failure(CONNECT_TIMEOUT, _error(f"cannot connect: {exc}", url, None, exc))
    if isinstance(exc, httpcore.TimeoutException):
        return _Failure(READ_TIMEOUT, _error("no response: read timeout", url, None, exc))
    if isinstance(exc, httpcore.ReadError | httpcore.WriteError):
        return _Failure(READ_TIMEOUT, _error(f"no response: {_describe(exc)}", url, None, exc))
    return _Failure(_OTHER, _error(_describe(exc), url, None, exc))


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _error(message: str, url: str, status: int | None, cause: BaseException) -> WebhookError:
    error = WebhookError(message, url, status)
    error.__cause__ = cause
    return error


def _log_failure(failure: _Failure, attempt: int) -> None:
    error = failure.error
    logger.info(
        "webhook attempt failed: %s",
        error,
        extra={"url": error.url, "status": error.status, "attempt": attempt},
    )
