"""SIP over UDP and TCP on one (host, port): the thin asyncio shell around SipEndpoint.

Every input follows the same path: feed the endpoint (with ``loop.time()``),
send what it produced, hand its events to ``on_event`` (a plain callable; the
call layer spawns tasks), and re-arm the single timer to ``next_timer()``.
TCP connections are keyed by the peer address, which is also the address the
endpoint uses for responses on them. With a ``guard`` (net/guard.py), every
datagram and TCP frame is first checked against bans, the per-source limit and
scanner User-Agents, before it is parsed; a banned source's connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from callplane.errors import SipError
from callplane.net.guard import SourceGuard
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import (
    Address,
    BadMessage,
    Event,
    ResponseReceived,
    TransactionTimeout,
)
from callplane.sip.framing import (
    MAX_MESSAGE_SIZE,
    FramingError,
    Ping,
    StreamFramer,
    error_response,
)
from callplane.sip.message import Request, Response
from callplane.sip.transaction import ClientTransaction, ServerTransaction

logger = logging.getLogger("callplane.sip")

EventHandler = Callable[[Event], None]
UDP_RECEIVE_BUFFER = 4 << 20


class SipTransport:
    def __init__(
        self,
        on_event: EventHandler,
        *,
        endpoint: SipEndpoint | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        guard: SourceGuard | None = None,
    ) -> None:
        self.on_event = on_event
        self.endpoint = endpoint or SipEndpoint()
        self.guard = guard
        self.max_message_size = max_message_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _TcpConnection] = {}
        self._futures: dict[ClientTransaction, asyncio.Future[Response]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._address: Address | None = None

    @property
    def local_address(self) -> Address:
        if self._address is None:
            raise SipError("transport not started")
        return self._address

    async def start(self, host: str = "0.0.0.0", port: int = 5060) -> None:
        """Listen on UDP and TCP; with port 0 both get the same free port."""
        self._loop = asyncio.get_running_loop()
        attempts = 20 if port == 0 else 1
        for attempt in range(attempts):
            try:
                await self._bind(host, port)
                break
            except OSError:
                if attempt == attempts - 1:
                    raise
        self.endpoint.local_sent_by = self.local_address

    async def _bind(self, host: str, port: int) -> None:
        assert self._loop is not None
        udp, _ = await self._loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(host, port)
        )
        address = udp.get_extra_info("sockname")[:2]
        sock = udp.get_extra_info("socket")
        # Room for a burst while the loop is busy (a GC pass, a record flush): at 2,500
        # INVITEs/s the default ~208 KB holds ~0.15 s before the kernel drops datagrams.
        # The kernel caps it at net.core.rmem_max (docs/benchmarks.md).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        try:
            self._server = await self._loop.create_server(
                lambda: _TcpConnection(self), address[0], address[1]
            )
        except OSError:
            udp.close()
            raise
        self._udp = udp
        self._address = (address[0], address[1])

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        for connection in list(self._connections.values()):
            connection.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- the TU's calls ----------------------------------------------------

    def send_response(self, txn: ServerTransaction, response: Response) -> None:
        self.endpoint.send_response(txn, response, self._now())
        self._flush()

    def send_request(
        self, request: Request, dest: Address, transport: str = "UDP"
    ) -> asyncio.Future[Response]:
        """Start a client transaction; resolves with the final response or a synthetic 408."""
        txn = self.endpoint.send_request(request, dest, transport.upper(), self._now())
        future: asyncio.Future[Response] = self._running_loop().create_future()
        self._futures[txn] = future
        self._flush()
        return future

    def send_ack(self, request: Request, dest: Address, transport: str = "UDP") -> None:
        self.endpoint.send_ack(request, dest, transport.upper())
        self._flush()

    # -- input -------------------------------------------------------------

    def _receive(self, data: bytes, source: Address, transport: str) -> None:
        self.endpoint.receive(data, source, transport, self._now())
        self._flush()

    def _flush(self) -> None:
        for data, dest, transport in self.endpoint.outgoing():
            self._send(data, dest, transport)
        for event in self.endpoint.events():
            self._dispatch(event)
        self._rearm()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, BadMessage):
            logger.info(
                "bad SIP message from %s over %s: %s (answered: %s)",
                event.source,
                event.transport,
                event.error,
                event.answered,
            )
        elif isinstance(event, ResponseReceived | TransactionTimeout):
            self._resolve(event)
        try:
            self.on_event(event)
        except Exception:
            logger.exception("SIP event handler failed on %r", event)

    def _resolve(self, event: ResponseReceived | TransactionTimeout) -> None:
        txn = event.transaction
        response = event.response
        if not isinstance(txn, ClientTransaction) or response is None or response.status < 200:
            return
        future = self._futures.pop(txn, None)
        if future is not None and not future.done():
            future.set_result(response)

    # -- timers ------------------------------------------------------------

    def _rearm(self) -> None:
        deadline = self.endpoint.next_timer()
        if deadline == self._timer_deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            self._timer = self._running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        deadline = self._timer_deadline or 0.0
        self._timer = None
        self._timer_deadline = None
        self.endpoint.handle_timers(max(self._now(), deadline))
        self._flush()

    # -- output ------------------------------------------------------------

    def _send(self, data: bytes, dest: Address, transport: str) -> None:
        if transport == "UDP":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, dest)
            return
        connection = self._connections.get(dest)
        if connection is not None:
            connection.write(data)
        else:
            self._spawn(self._connect_and_send(data, dest))

    async def _connect_and_send(self, data: bytes, dest: Address) -> None:
        try:
            await self._running_loop().create_connection(
                lambda: _TcpConnection(self), dest[0], dest[1]
            )
        except OSError as exc:
            logger.info("cannot connect to %s over TCP: %s", dest, exc)
            return
        connection = self._connections.get(dest)
        if connection is not None:
            connection.write(data)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _now(self) -> float:
        return self._running_loop().time()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = str(addr[0])
        guard = self.owner.guard
        if guard is not None and not guard.admits(data, source):
            return
        if not data.strip(b"\r\n"):
            return  # CRLF keep-alive
        self.owner._receive(data, (source, int(addr[1])), "UDP")

    def error_received(self, exc: Exception) -> None:
        logger.info("UDP error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.framer = StreamFramer(owner.max_message_size)
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        guard = self.owner.guard
        if guard is not None and guard.bans.banned(self.peer[0]):
            transport.close()
            return
        self.owner._connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        guard = self.owner.guard
        if guard is not None and guard.bans.banned(self.peer[0]):
            self.close()  # banned while connected
            return
        for frame in self.framer.feed(data):
            if isinstance(frame, bytes):
                if guard is None or guard.admits(frame, self.peer[0]):
                    self.owner._receive(frame, self.peer, "TCP")
                elif guard.bans.banned(self.peer[0]):
                    self.close()  # banned by this frame: the rest is not read
                    return
            elif isinstance(frame, Ping):
                self.write(b"\r\n")
            else:
                self._fail(frame)

    def _fail(self, error: FramingError) -> None:
        logger.info("closing SIP/TCP connection from %s: %s", self.peer, error.reason)
        response = error_response(error)
        if response is not None:
            self.write(response)
        self.close()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner._connections.get(self.peer) is self:
            del self.owner._connections[self.peer]
