"""An asyncio network backend for httpcore: sockets as plain asyncio protocols.

httpcore's default backend on asyncio goes through anyio: every read and write
opens an ``anyio.fail_after`` cancel scope, and checking an idle pooled
connection for a server-side close costs a ``poll()`` system call per
connection per request. This backend implements httpcore's public
:class:`httpcore.AsyncNetworkBackend` interface directly on the event loop
(asyncio or uvloop): a read waits on a future with a ``call_later`` timer, a
write is ``transport.write``, and "is the idle connection readable" is answered
from the protocol's own state.

Each backend connects for one :class:`~callplane.webhooks.ssrf.Reach`: the host
is resolved and checked by the outbound request policy, and the connection goes
to a checked address (:class:`RefusedConnect` when the policy refuses it).

It also counts the TCP connections it opens in the current task
(:func:`connections_opened`), so that the client can tell a request that failed
on a reused keep-alive connection (retried once) from one that failed on a
fresh connection (reported).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, cast

import anyio
import anyio._backends._asyncio  # imported now, see _PRELOADED
import httpcore

from callplane.webhooks.ssrf import OutboundPolicy, Reach, RefusedURL

# httpcore's pool makes anyio events, locks and cancel scopes, and anyio imports them
# and its asyncio backend lazily, on first use: some 30 modules imported on the event
# loop inside the first webhook request after start-up (15-20 ms), delaying the calls
# behind it. Touching them here moves that to start-up.
_PRELOADED = (anyio.Event, anyio.Lock, anyio.Semaphore, anyio.CancelScope, anyio.fail_after)

# Reading pauses when this much unread data is buffered, resumes at a quarter of it.
_HIGH_WATER = 256 * 1024
_LOW_WATER = _HIGH_WATER // 4

# Per task (the request runs in the caller's task, and httpcore connects in it).
_connects: ContextVar[int] = ContextVar("callplane_webhook_connects", default=0)


def connections_opened() -> int:
    """How many TCP connections this backend has opened in the current task so far."""
    return _connects.get()


class AsyncioStream(httpcore.AsyncNetworkStream, asyncio.Protocol):
    """One TCP (or TLS) connection: the protocol object is also httpcore's stream."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._eof = False
        self._lost: BaseException | None = None
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        _wake(self._readable)

    def eof_received(self) -> bool | None:
        self._eof = True
        _wake(self._readable)
        return None  # close the transport: a half-closed HTTP/1.1 connection is finished

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        _wake(self._readable)
        _wake(self._writable)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        _wake(self._writable)

    # httpcore.AsyncNetworkStream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self._chunks and not self._eof:
            waiter = self._readable = self._loop.create_future()
            await _wait(self._loop, waiter, timeout, httpcore.ReadTimeout)
        if self._chunks:
            data = self._chunks.popleft()
            if len(data) > max_bytes:
                self._chunks.appendleft(data[max_bytes:])
                data = data[:max_bytes]
            self._buffered -= len(data)
            if self._reading_paused and self._buffered <= _LOW_WATER and self._transport:
                self._reading_paused = False
                self._transport.resume_reading()
            return data
        if self._lost is not None:
            raise httpcore.ReadError(_describe(self._lost)) from self._lost
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            lost = self._lost
            raise httpcore.WriteError(_describe(lost) if lost else "connection closed")
        transport.write(buffer)
        waiter = self._writable
        if waiter is not None and not waiter.done():
            await _wait(self._loop, waiter, timeout, httpcore.WriteTimeout)
            if self._lost is not None:
                raise httpcore.WriteError(_describe(self._lost)) from self._lost

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        assert self._transport is not None
        try:
            async with asyncio.timeout(timeout):
                transport = await self._loop.start_tls(
                    self._transport, self, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError included
            self._transport.close()
            raise httpcore.ConnectError(_describe(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("TLS handshake failed")
        self._transport = transport
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # asked of every idle pooled connection: no system call
            return bool(self._chunks) or self._eof
        transport = self._transport
        if transport is None:
            return None
        key = _EXTRA.get(info)
        return transport.get_extra_info(key) if key else None


_EXTRA = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


class RefusedConnect(httpcore.ConnectError):
    """The outbound request policy refused every address of the host."""


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend on the running asyncio (or uvloop) event loop."""

    def __init__(self, policy: OutboundPolicy, reach: Reach) -> None:
        self._policy = policy
        self._reach = reach

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        _connects.set(_connects.get() + 1)
        loop = asyncio.get_running_loop()
        stream = AsyncioStream(loop)
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._policy.resolve(host, port, self._reach)
                await _connect_first(loop, stream, addresses, port, local)
        except RefusedURL as exc:
            raise RefusedConnect(str(exc)) from None  # nothing about the target
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        _apply(stream, socket_options)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        _connects.set(_connects.get() + 1)
        loop = asyncio.get_running_loop()
        stream = AsyncioStream(loop)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_unix_connection(lambda: stream, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_describe(exc)) from exc
        _apply(stream, socket_options)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect_first(
    loop: asyncio.AbstractEventLoop,
    stream: AsyncioStream,
    addresses: list[str],
    port: int,
    local: tuple[str, int] | None,
) -> None:
    """Connect to the first of ``addresses`` that accepts (the resolver's order)."""
    for address in addresses[:-1]:
        try:
            await loop.create_connection(lambda: stream, address, port, local_addr=local)
            return
        except OSError:
            continue
    await loop.create_connection(lambda: stream, addresses[-1], port, local_addr=local)


def _apply(stream: AsyncioStream, options: Iterable[httpcore.SOCKET_OPTION] | None) -> None:
    sock = stream.get_extra_info("socket")
    for option in options or ():
        cast(socket.socket, sock).setsockopt(*option)


async def _wait(
    loop: asyncio.AbstractEventLoop,
    waiter: asyncio.Future[None],
    timeout: float | None,
    error: type[Exception],
) -> None:
    if timeout is None:
        await waiter
        return
    timer = loop.call_later(timeout, _expire, waiter, error)
    try:
        await waiter
    finally:
        timer.cancel()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], error: type[Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error("timed out"))


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
