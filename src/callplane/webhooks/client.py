"""HTTP requests to customer URLs, signed as Plivo signs them.

Two kinds of request (design.md section 4):

* :meth:`WebhookClient.fetch` - action URLs (answer, fallback, verb actions):
  the response is the next document. Failures raise :class:`WebhookError` so
  the caller can go to the fallback URL; retries only when the URL's fragment
  asks for them.
* :meth:`WebhookClient.notify` - callback URLs (hangup, status callbacks):
  retried per policy; what still fails goes to the outbox, which the
  :class:`~callplane.webhooks.worker.OutboxWorker` drains later. Never raises
  for HTTP failures.

httpx exceptions are translated into :class:`WebhookError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from callplane.errors import WebhookError
from callplane.store.models import PendingCallback
from callplane.webhooks import signing
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

logger = logging.getLogger("callplane.webhooks")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_OTHER = "other"
_TOTAL = "tt"
_METHODS = frozenset({"GET", "POST"})
# httpcore's pool does O(connections) work per request; beyond ~10 connections
# a pool costs more than it saves, so requests go round-robin over small pools.
_PER_SHARD = 8


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
class _Failure:
    kind: str  # policy.FAILURES member, "tt" or "other"
    error: WebhookError
    attempts: int = 1


class WebhookClient:
    """Keep-alive HTTP/1.1 connections to customer URLs, shared by all calls.

    The connections live in ``pool_shards`` httpx clients (default: one per 8
    connections) used in turn; see ``bench_fetch.py`` for why.
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
    ) -> None:
        self.outbox: OutboxSink = outbox if outbox is not None else MemoryOutbox()
        self._action_defaults = action_policy(default_timeout)
        self._retry_backoff = retry_backoff
        self._outbox_delay = outbox_delay
        self._max_body = max_body
        shards = max(1, min(pool_shards or max_connections // _PER_SHARD, max_connections))
        limits = httpx.Limits(
            max_connections=max_connections // shards,
            max_keepalive_connections=max_connections // shards,
            keepalive_expiry=30.0,
        )
        tls = httpx.create_ssl_context(verify=verify)  # one context: building one costs ~20 ms
        self._pool = [
            httpx.AsyncClient(
                http2=False,
                follow_redirects=True,
                max_redirects=max_redirects,
                limits=limits,
                headers={"User-Agent": user_agent},
                trust_env=False,
                verify=tls,
            )
            for _ in range(shards)
        ]
        self._next = itertools.cycle(self._pool).__next__

    async def aclose(self) -> None:
        for http in self._pool:
            await http.aclose()

    async def fetch(
        self,
        url: str,
        method: str,
        params: Params,
        auth_token: str,
        *,
        timeout: float | None = None,
        main_auth_token: str | None = None,
    ) -> WebhookResponse:
        """Request an action URL; return its 2xx response or raise WebhookError."""
        defaults = self._action_defaults if timeout is None else action_policy(timeout)
        target, policy = split_url(url, defaults)
        request = _form_request(_method(method), target, params)
        keys = SigningKeys(auth_token, main_auth_token)
        result = await self._send(request, policy, keys)
        if isinstance(result, _Failure):
            raise result.error
        return result

    async def notify(
        self,
        url: str,
        method: str,
        params: Params | None,
        auth_token: str,
        *,
        auth_id: str,
        json_body: Mapping[str, Any] | None = None,
        main_auth_token: str | None = None,
    ) -> bool:
        """Deliver a callback; True if delivered now, else it is left in the outbox."""
        target, policy = split_url(url, CALLBACK_POLICY)
        if json_body is not None:
            request = _json_request(_method(method), target, json_body)
        else:
            request = _form_request(_method(method), target, params or {})
        result = await self._send(request, policy, SigningKeys(auth_token, main_auth_token))
        if isinstance(result, _Failure):
            await self._park(request, url, auth_id, result)
            return False
        return True

    async def resend(self, cb: PendingCallback, keys: SigningKeys) -> bool:
        """One attempt at a stored callback, same body, fresh signature."""
        target, policy = split_url(cb.url, CALLBACK_POLICY)
        request = _stored_request(cb, target)
        result = await self._send(request, replace(policy, retry_count=0), keys)
        return not isinstance(result, _Failure)

    async def _send(
        self, request: _Request, policy: Policy, keys: SigningKeys
    ) -> WebhookResponse | _Failure:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.total_timeout
        attempt = 1
        while True:
            result = await self._attempt_until(request, policy, keys, deadline)
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
        self, request: _Request, policy: Policy, keys: SigningKeys, deadline: float
    ) -> WebhookResponse | _Failure:
        try:
            async with asyncio.timeout_at(deadline):
                return await self._attempt(request, policy, keys)
        except TimeoutError as exc:
            message = f"total timeout {policy.total_timeout:g}s"
            return _Failure(_TOTAL, _error(message, request.url, None, exc))

    async def _attempt(
        self, request: _Request, policy: Policy, keys: SigningKeys
    ) -> WebhookResponse | _Failure:
        headers = signing.sign(request.method, request.url, request.form, keys)
        if request.content_type:
            headers["Content-Type"] = request.content_type
        try:
            response = await self._exchange(request, headers, _timeout(policy))
        except httpx.HTTPError as exc:
            return _translate(exc, request.url)
        except httpx.InvalidURL as exc:
            return _Failure(_OTHER, _error(f"invalid URL: {exc}", request.url, None, exc))
        return _check_status(response)

    async def _exchange(
        self, request: _Request, headers: dict[str, str], timeout: httpx.Timeout
    ) -> WebhookResponse:
        http = self._next()
        outgoing = http.build_request(
            request.method,
            request.url,
            content=request.body if request.method != "GET" else None,
            headers=headers,
            timeout=timeout,
        )
        response = await http.send(outgoing, stream=True)
        try:
            body = await self._read(response)
        finally:
            await response.aclose()
        content_type = response.headers.get("content-type", "")
        return WebhookResponse(response.status_code, body, content_type, str(response.url))

    async def _read(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise _BodyTooLarge(f"response body over {self._max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _park(self, request: _Request, url: str, auth_id: str, failure: _Failure) -> None:
        now = utcnow()
        fragment = url.partition("#")[2]
        cb = PendingCallback(
            callback_id=uuid.uuid4().hex,
            auth_id=auth_id,
            url=f"{request.url}#{fragment}" if fragment else request.url,
            method=request.method,
            body=request.body,
            content_type=request.content_type,
            headers={},
            attempts=failure.attempts,
            next_attempt=now + timedelta(seconds=self._outbox_delay),
            created=now,
        )
        await self.outbox.save(cb)
        logger.warning(
            "callback queued for retry: %s",
            failure.error,
            extra={"url": request.url, "status": failure.error.status, "attempt": cb.attempts},
        )


class _BodyTooLarge(httpx.HTTPError):
    """Raised inside the exchange so that it is translated like any transport error."""


def _method(method: str) -> str:
    upper = method.upper()
    if upper not in _METHODS:
        raise ValueError(f"webhook method must be GET or POST, not {method!r}")
    return upper


def _form_request(method: str, url: str, params: Params) -> _Request:
    form = signing.normalize(params)
    encoded = urlencode(form, doseq=True)
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


def _stored_request(cb: PendingCallback, url: str) -> _Request:
    form: dict[str, list[str]] = {}
    if cb.method == "POST" and cb.content_type == FORM:
        form = parse_qs(cb.body.decode(), keep_blank_values=True)
    return _Request(cb.method, url, cb.body, cb.content_type, form)


@lru_cache(maxsize=256)
def _timeout(policy: Policy) -> httpx.Timeout:
    return httpx.Timeout(
        connect=policy.connect_timeout,
        read=policy.read_timeout,
        write=policy.read_timeout,
        pool=policy.total_timeout,
    )


def _check_status(response: WebhookResponse) -> WebhookResponse | _Failure:
    status = response.status
    if 200 <= status < 300:
        return response
    kind = SERVER_ERROR if status >= 500 else CLIENT_ERROR if status >= 400 else _OTHER
    return _Failure(kind, WebhookError(f"HTTP {status}", response.url, status))


def _translate(exc: httpx.HTTPError, url: str) -> _Failure:
    if isinstance(exc, httpx.ConnectTimeout):
        return _Failure(CONNECT_TIMEOUT, _error("connect timeout", url, None, exc))
    if isinstance(exc, httpx.ConnectError):
        return _Failure(CONNECT_TIMEOUT, _error(f"cannot connect: {exc}", url, None, exc))
    if isinstance(exc, httpx.TimeoutException | httpx.ReadError | httpx.WriteError):
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
