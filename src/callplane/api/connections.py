"""uvicorn's HTTP protocol (httptools), bounded against slow and greedy clients.

uvicorn times a connection out only when it idles after a response
(``timeout_keep_alive``): a client that connects and sends nothing, or dribbles
its headers a byte at a time (slowloris), or its body, holds a socket forever,
and nothing caps how many such sockets are open or how many header bytes one
sends. :func:`bounded_protocol` adds, per :class:`HttpLimits`:

* a header timeout, from the connection's start (or a request's first byte)
  to the end of that request's headers; then the connection is closed;
* a body timeout, from the end of the headers to the end of the body;
* a cap on header bytes: more get ``431`` and the connection is closed;
* a cap on open connections: the one over it gets ``503`` and is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("callplane.api")
WARN_EVERY = 60.0  # seconds between warnings about refused connections (a flood would spam)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 512
    header_timeout: float = 10.0  # seconds
    body_timeout: float = 60.0  # seconds
    max_header_bytes: int = 64 << 10


def bounded_protocol(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``."""

    class Bounded(BoundedHttpProtocol):
        LIMITS = limits

    return Bounded


class BoundedHttpProtocol(HttpToolsProtocol):
    LIMITS = HttpLimits()
    warned_at = -WARN_EVERY

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.LIMITS.max_connections:
            self._warn_full()
            self._refuse(503, "too many connections")
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is None or self.transport.is_closing():
            return
        self._header_bytes += len(data)  # the headers are not complete yet
        if self._header_bytes > self.LIMITS.max_header_bytes:
            self._refuse(431, f"request headers larger than {self.LIMITS.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_timers()
        self._header_bytes = 0
        self._body_timer = self.loop.call_later(self.LIMITS.body_timeout, self._timed_out, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self.LIMITS.header_timeout, self._timed_out, "headers"
        )

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _timed_out(self, what: str) -> None:
        self._header_timer = self._body_timer = None
        if not self.transport.is_closing():
            log.debug("HTTP %s:%s: request %s too slow, closing", *(self.client or ("?", 0)), what)
            self.transport.close()

    def _warn_full(self) -> None:
        now = time.monotonic()
        if now - BoundedHttpProtocol.warned_at >= WARN_EVERY:
            BoundedHttpProtocol.warned_at = now
            log.warning(
                "HTTP: %d connections open, refusing more (--http-max-connections)",
                self.LIMITS.max_connections,
            )

    def _refuse(self, status: int, error: str) -> None:
        self._cancel_timers()
        body = orjson.dumps({"api_id": str(uuid.uuid4()), "error": error})
        head = (
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        )
        self.transport.write(STATUS_LINE[status] + head + body)
        self.transport.close()
