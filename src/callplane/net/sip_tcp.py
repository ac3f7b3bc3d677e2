"""SIP over TCP connections (RFC 3261 §18.3) and the limits that keep slow clients out.

A connection a client opened must deliver its first complete message within
``TcpLimits.first_message_timeout`` and then one at least every
``idle_timeout`` (CRLF keep-alives count), or it is closed; one that would
exceed ``max_per_source`` connections from its IP address, or
``max_connections`` in all, is aborted as soon as it is accepted. Connections
we open ourselves are never refused, but count towards the totals and close
when idle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from callplane.net.guard import SourceGuard
from callplane.sip.events import Address
from callplane.sip.framing import FramingError, Ping, StreamFramer, error_response

logger = logging.getLogger("callplane.sip")

WARNED_SOURCES_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class TcpLimits:
    first_message_timeout: float = 10.0  # seconds from accept to the first complete message
    idle_timeout: float = 600.0  # seconds without a message or keep-alive
    max_per_source: int = 32  # concurrent connections from one IP address
    max_connections: int = 2048  # concurrent connections in all


class TcpConnections:
    """The open connections by peer address, and the counts the limits need."""

    def __init__(self, limits: TcpLimits) -> None:
        self.limits = limits
        self.by_peer: dict[Address, SipTcpConnection] = {}
        self.per_source: Counter[str] = Counter()
        self.refused = 0  # connections aborted at accept for a limit
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.by_peer)

    def get(self, peer: Address) -> SipTcpConnection | None:
        return self.by_peer.get(peer)

    def admit(self, connection: SipTcpConnection, inbound: bool) -> bool:
        """Register ``connection``; False (and nothing registered) when over a limit."""
        source = connection.peer[0]
        if inbound:
            why = ""
            if len(self.by_peer) >= self.limits.max_connections:
                why = f"{self.limits.max_connections} connections open in all"
            elif self.per_source[source] >= self.limits.max_per_source:
                why = f"{self.limits.max_per_source} connections open from {source}"
            if why:
                self.refused += 1
                self._warn_once(source, why)
                return False
        self.by_peer[connection.peer] = connection
        self.per_source[source] += 1
        return True

    def forget(self, connection: SipTcpConnection) -> None:
        if self.by_peer.get(connection.peer) is not connection:
            return
        del self.by_peer[connection.peer]
        source = connection.peer[0]
        self.per_source[source] -= 1
        if self.per_source[source] <= 0:
            del self.per_source[source]

    def close_all(self) -> None:
        for connection in list(self.by_peer.values()):
            connection.close()

    def _warn_once(self, source: str, why: str) -> None:
        if source in self._warned:
            logger.debug("refusing SIP/TCP connection from %s: %s", source, why)
            return
        if len(self._warned) >= WARNED_SOURCES_LIMIT:
            self._warned.clear()
        self._warned.add(source)
        logger.warning("refusing SIP/TCP connections from %s: %s", source, why)


class ConnectionOwner(Protocol):
    """What a connection needs of ``SipTransport``."""

    tcp: TcpConnections
    max_message_size: int
    guard: SourceGuard | None

    def _receive(self, data: bytes, source: Address, transport: str) -> None: ...


class SipTcpConnection(asyncio.Protocol):
    """One SIP/TCP connection, accepted (``inbound``) or opened by us."""

    def __init__(self, owner: ConnectionOwner, *, inbound: bool) -> None:
        self.owner = owner
        self.inbound = inbound
        self.framer = StreamFramer(owner.max_message_size)
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.closed = asyncio.Event()
        self._admitted = False
        self._heard = not inbound  # a complete message (or, after one, a keep-alive) came
        self._last_heard = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        guard = self.owner.guard
        if guard is not None and guard.bans.banned(self.peer[0]):
            transport.abort()  # type: ignore[attr-defined]
            return
        if not self.owner.tcp.admit(self, self.inbound):
            transport.abort()  # type: ignore[attr-defined]  # every stream transport has it
            return
        self._admitted = True
        limits = self.owner.tcp.limits
        loop = asyncio.get_running_loop()
        self._last_heard = loop.time()
        first = limits.first_message_timeout if self.inbound else limits.idle_timeout
        self._timer = loop.call_later(first, self._check_idle)

    def data_received(self, data: bytes) -> None:
        guard = self.owner.guard
        if guard is not None and guard.bans.banned(self.peer[0]):
            self.close()  # banned while connected
            return
        for frame in self.framer.feed(data):
            if isinstance(frame, bytes):
                self._mark_heard()
                if guard is None or guard.admits(frame, self.peer[0]):
                    self.owner._receive(frame, self.peer, "TCP")
                elif guard.bans.banned(self.peer[0]):
                    self.close()  # banned by this frame: the rest is not read
                    return
            elif isinstance(frame, Ping):
                if self._heard:
                    self._mark_heard()
                self.write(b"\r\n")
            else:
                self._fail(frame)

    def _mark_heard(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_heard = loop.time()
        if not self._heard:  # from the first-message deadline to the idle one
            self._heard = True
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self.owner.tcp.limits.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        """Close a connection that is silent too long; re-arm for the rest otherwise.
        One timer per connection, not re-armed per message."""
        self._timer = None
        limits = self.owner.tcp.limits
        if not self._heard:
            wait = limits.first_message_timeout
            self._close_quietly(f"no complete SIP message within {wait:g} s")
            return
        loop = asyncio.get_running_loop()
        remaining = self._last_heard + limits.idle_timeout - loop.time()
        if remaining > 0:
            self._timer = loop.call_later(remaining, self._check_idle)
        else:
            self._close_quietly(f"idle for {limits.idle_timeout:g} s")

    def _close_quietly(self, why: str) -> None:
        logger.info("closing SIP/TCP connection with %s: %s", self.peer, why)
        self.close()

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._admitted:
            self.owner.tcp.forget(self)
        self.closed.set()
