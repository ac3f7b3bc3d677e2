"""SIP over UDP and TCP on one (host, port): the thin asyncio shell around SipEndpoint.

Every input follows the same path: feed the endpoint (with ``loop.time()``),
send what it produced, hand its events to ``on_event`` (a plain callable; the
call layer spawns tasks), and re-arm the single timer to ``next_timer()``.
TCP connections are keyed by the peer address, which is also the address the
endpoint uses for responses on them (``net/sip_tcp.py``, with its limits).

Destinations that are host names (a trunk, a Contact, a Via ``maddr``) are
resolved here, never on the hot path of IP literals (``net/resolver.py``): a
request is handed to the endpoint only once its name resolved, so its client
transaction (and every retransmission) has an IP address; a name that does not
resolve ends that request with a synthetic 503 (RFC 3261 §8.1.3.1). A response
or ACK to a name that does not resolve is dropped and logged. Nothing one bad
destination does stops the flush or the timer. With a ``guard``
(net/guard.py), every datagram and TCP frame is first checked against bans,
the per-source limit and scanner User-Agents, before it is parsed; a banned
source's connection is closed.
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
from callplane.net.resolver import ResolutionError, Resolver, Target, is_ip_literal
from callplane.net.sip_tcp import SipTcpConnection, TcpConnections, TcpLimits
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import (
    Address,
    BadMessage,
    Event,
    ResponseReceived,
    TransactionTimeout,
)
from callplane.sip.framing import MAX_MESSAGE_SIZE
from callplane.sip.message import Request, Response, build_response
from callplane.sip.transaction import ClientTransaction, ServerTransaction

logger = logging.getLogger("callplane.sip")

EventHandler = Callable[[Event], None]
# (direction "in"/"out", transport, source, destination, the message's bytes): who
# captures messages for the call inspector (issue 16); None costs nothing.
SipTap = Callable[[str, str, Address, Address, bytes], None]
UDP_RECEIVE_BUFFER = 4 << 20
WARNED_LIMIT = 1024


class SipTransport:
    def __init__(
        self,
        on_event: EventHandler,
        *,
        endpoint: SipEndpoint | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        guard: SourceGuard | None = None,
        resolver: Resolver | None = None,
        tcp_limits: TcpLimits | None = None,
    ) -> None:
        self.on_event = on_event
        self.endpoint = endpoint or SipEndpoint()
        self.guard = guard
        self.max_message_size = max_message_size
        self.resolver = resolver or Resolver()
        self.tcp = TcpConnections(tcp_limits or TcpLimits())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._futures: dict[ClientTransaction, asyncio.Future[Response]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._address: Address | None = None
        self._warned: set[Address] = set()
        self.tap: SipTap | None = None

    @property
    def local_address(self) -> Address:
        if self._address is None:
            raise SipError("transport not started")
        return self._address

    async def start(self, host: str = "0.0.0.0", port: int = 5060, advertised: str = "") -> None:
        """Listen on UDP and TCP; with port 0 both get the same free port.

        ``advertised``: the host our requests' Via names (sent-by), as Contact does
        (default: the bound address, which must then not be a wildcard such as 0.0.0.0)."""
        self._loop = asyncio.get_running_loop()
        attempts = 20 if port == 0 else 1
        for attempt in range(attempts):
            try:
                await self._bind(host, port)
                break
            except OSError:
                if attempt == attempts - 1:
                    raise
        bound, bound_port = self.local_address
        self.endpoint.local_sent_by = (advertised or bound, bound_port)

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
                lambda: SipTcpConnection(self, inbound=True), address[0], address[1]
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
        self.tcp.close_all()
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
        """Start a client transaction; resolves with the final response, a synthetic
        408 (no answer) or a synthetic 503 (``dest`` unreachable: a name that does not
        resolve, a TCP connection refused). Port 0 in ``dest``: none given (RFC 3263)."""
        transport = transport.upper()
        future: asyncio.Future[Response] = self._running_loop().create_future()
        dest = self._cancel_destination(request) or dest
        address = self._known_address(dest, transport)
        if address is None:
            self._spawn(self._resolve_then_request(request, dest, transport, future))
        elif address is _UNRESOLVABLE:
            future.set_result(_unreachable(request, f"{dest[0]} does not resolve"))
        else:
            self._start_request(request, address, transport, future)
        return future

    def send_ack(self, request: Request, dest: Address, transport: str = "UDP") -> None:
        transport = transport.upper()
        address = self._known_address(dest, transport)
        if address is None:
            self._spawn(self._resolve_then_ack(request, dest, transport))
        elif address is _UNRESOLVABLE:
            self._warn(dest, "dropping ACK: the host does not resolve")
        else:
            self.endpoint.send_ack(request, address, transport)
            self._flush()

    def _start_request(
        self, request: Request, address: Address, transport: str, future: asyncio.Future[Response]
    ) -> None:
        txn = self.endpoint.send_request(request, address, transport, self._now())
        self._futures[txn] = future
        self._flush()

    def _cancel_destination(self, request: Request) -> Address | None:
        """A CANCEL goes where its INVITE went (§9.1), whatever DNS says now."""
        if request.method != "CANCEL" or "Via" not in request.headers:
            return None
        invite = self.endpoint.client_transaction(request.top_via.branch or "", "INVITE")
        return invite.peer if invite is not None else None

    # -- names -------------------------------------------------------------

    def _known_address(self, dest: Address, transport: str) -> Address | None:
        """``dest`` when it is an IP literal, the cached target of a name, None when a
        look-up is needed, or ``_UNRESOLVABLE`` for a name cached as failing."""
        host, port = dest
        if port and is_ip_literal(host):
            return dest
        host = host.strip("[]")
        if port and is_ip_literal(host):
            return host, port
        targets = self.resolver.cached(host, port, transport)
        if targets is None:
            return None
        return self._choose(targets, transport) or _UNRESOLVABLE

    async def _lookup(self, dest: Address, transport: str) -> Address:
        """The address to use for ``dest``; ResolutionError if there is none."""
        targets = await self.resolver.targets(dest[0].strip("[]"), dest[1], transport)
        address = self._choose(targets, transport)
        if address is None:
            raise ResolutionError(f"{dest[0]} has no address of our socket's family")
        return address

    def _choose(self, targets: list[Target], transport: str) -> Address | None:
        """The first target our UDP socket can reach (IPv4 or IPv6); TCP takes any."""
        want_v6 = transport == "UDP" and self._address is not None and ":" in self._address[0]
        for target in targets:
            if transport != "UDP" or (":" in target.address) == want_v6:
                return target.address, target.port
        return None

    async def _resolve_then_request(
        self, request: Request, dest: Address, transport: str, future: asyncio.Future[Response]
    ) -> None:
        try:
            address = await self._lookup(dest, transport)
        except ResolutionError as exc:
            logger.info("%s to %s failed: %s", request.method, dest, exc)
            if not future.done():
                future.set_result(_unreachable(request, str(exc)))
            return
        except asyncio.CancelledError:  # the transport is closing
            future.cancel()
            raise
        if not future.done():
            self._start_request(request, address, transport, future)

    async def _resolve_then_ack(self, request: Request, dest: Address, transport: str) -> None:
        try:
            address = await self._lookup(dest, transport)
        except ResolutionError as exc:
            self._warn(dest, f"dropping ACK: {exc}")
            return
        self.endpoint.send_ack(request, address, transport)
        self._flush()

    async def _resolve_then_send(self, data: bytes, dest: Address, transport: str) -> None:
        """A response (or a retransmission) the endpoint addressed to a host name."""
        try:
            address = await self._lookup(dest, transport)
        except ResolutionError as exc:
            self._warn(dest, f"dropping a message: {exc}")
            return
        self._send(data, address, transport)

    # -- input -------------------------------------------------------------

    def _receive(self, data: bytes, source: Address, transport: str) -> None:
        if self.tap is not None:
            self._tap("in", transport, source, self.local_address, data)
        self.endpoint.receive(data, source, transport, self._now())
        self._flush()

    def _flush(self) -> None:
        try:
            for data, dest, transport in self.endpoint.outgoing():
                if self.tap is not None:
                    self._tap("out", transport, self.local_address, dest, data)
                self._send(data, dest, transport)
            for event in self.endpoint.events():
                self._dispatch(event)
        finally:
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

    def _tap(self, direction: str, transport: str, src: Address, dst: Address, data: bytes) -> None:
        assert self.tap is not None
        try:
            self.tap(direction, transport, src, dst, data)
        except Exception:  # capture must never cost a call its message
            logger.exception("SIP capture failed")

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
        try:
            self.endpoint.handle_timers(max(self._now(), deadline))
        except Exception:  # the boundary: one transaction's bug must not stop the timer
            logger.exception("SIP timer handling failed")
        self._flush()

    # -- output ------------------------------------------------------------

    def _send(self, data: bytes, dest: Address, transport: str) -> None:
        """Send one message; a bad destination costs that message only."""
        if transport == "UDP":
            if not is_ip_literal(dest[0]) or not dest[1]:
                self._send_to_name(data, dest, transport)
            elif self._udp is not None and not self._udp.is_closing():
                try:
                    self._udp.sendto(data, dest)
                except (OSError, ValueError) as exc:
                    self._warn(dest, f"cannot send over UDP: {exc}")
                    self.endpoint.transport_error(dest, transport, self._now())
            return
        connection = self.tcp.get(dest)
        if connection is not None:
            connection.write(data)
        elif not is_ip_literal(dest[0]) or not dest[1]:
            self._send_to_name(data, dest, transport)
        else:
            self._spawn(self._connect_and_send(data, dest))

    def _send_to_name(self, data: bytes, dest: Address, transport: str) -> None:
        address = self._known_address(dest, transport)
        if address is None:
            self._spawn(self._resolve_then_send(data, dest, transport))
        elif address is _UNRESOLVABLE:
            self._warn(dest, "dropping a message: the host does not resolve")
        else:
            self._send(data, address, transport)

    async def _connect_and_send(self, data: bytes, dest: Address) -> None:
        try:
            await self._running_loop().create_connection(
                lambda: SipTcpConnection(self, inbound=False), dest[0], dest[1]
            )
        except OSError as exc:
            logger.info("cannot connect to %s over TCP: %s", dest, exc)
            self.endpoint.transport_error(dest, "TCP", self._now())
            self._flush()
            return
        connection = self.tcp.get(dest)
        if connection is not None:
            connection.write(data)

    def _warn(self, dest: Address, why: str) -> None:
        """Log a failing destination once (until many others failed), not per datagram."""
        if dest in self._warned:
            logger.debug("%s: %s", dest, why)
            return
        if len(self._warned) >= WARNED_LIMIT:
            self._warned.clear()
        self._warned.add(dest)
        logger.warning("%s: %s", dest, why)

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


_UNRESOLVABLE: Address = ("", 0)


def _unreachable(request: Request, why: str) -> Response:
    """The synthetic 503 a transport failure is reported as (RFC 3261 §8.1.3.1)."""
    warning = why.replace('"', "'")
    return build_response(request, 503, headers=[("Warning", f'399 callplane "{warning}"')])


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
