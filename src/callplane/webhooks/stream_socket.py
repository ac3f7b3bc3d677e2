"""WebSocket connections to customers' voice agents (``<Stream>``), under the outbound policy.

The URL's host is resolved and every address checked for the account's
:class:`~callplane.webhooks.ssrf.Reach` (``OutboundPolicy.resolve``); the socket
then connects to the first checked address, while the TLS handshake and the
``Host`` header keep the URL's name, so DNS rebinding cannot move it. Bounds:
``CONNECT_TIMEOUT`` for TCP + TLS + the WebSocket handshake, ``MAX_MESSAGE``
per incoming message (a bigger one closes the socket with 1009), and at most
``MAX_QUEUE`` incoming messages buffered before reading pauses (TCP pushes
back on the agent).

The hot path, 50 messages a second each way per track: ``write`` puts a message
on the wire at once (no task switch or drain) while the socket's buffer has room,
as a text frame built here (:func:`text_frame`, one ``transport.write``), and
``listen`` hands whole text messages to a callback as they arrive instead of
through ``recv``'s queue and a task wake-up.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, WebSocketException
from websockets.frames import Frame, Opcode, apply_mask
from websockets.protocol import Event, State

from callplane.errors import WebhookError
from callplane.webhooks.ssrf import OutboundPolicy, Reach, RefusedURL

log = logging.getLogger("callplane.webhooks")

CONNECT_TIMEOUT = 10.0  # seconds
MAX_MESSAGE = 1 << 20  # bytes: about 24 s of 16 kHz L16 in base64 in one playAudio
MAX_QUEUE = 64  # incoming messages buffered by the client
MASK_POOL = 4096  # bytes of masking keys drawn from os.urandom at once

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


class StreamClosed(Exception):
    """The socket is closed: ``clean`` with a closing handshake (code 1000/1001), else broken."""

    def __init__(self, reason: str, *, clean: bool = True) -> None:
        super().__init__(reason)
        self.clean = clean


class StreamSocket(Protocol):
    """One open WebSocket: text messages both ways; a closed socket raises StreamClosed."""

    def write(self, message: str) -> bool:
        """Send ``message`` now if the socket takes it without waiting; False (nothing
        sent) while its send buffer is full or it is closing: ``send`` then."""
        ...

    async def send(self, message: str) -> None: ...

    def listen(self, handler: Callable[[str], None] | None) -> None:
        """From now on, whole text messages go to ``handler`` as they arrive, unless
        messages wait for ``recv`` (which returns those, and binary and fragmented
        ones); None: all to ``recv`` again."""
        ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


class _AgentConnection(ClientConnection):
    """Hands whole text messages to ``on_text`` from ``data_received``: one task wake-up,
    queue and future less per message than ``recv`` (50 messages a second per call).
    A read that is nothing but whole text frames (the agent's usual ``media``) is split
    here (:func:`whole_text_frames`) without the protocol's frame parser; anything else
    (control frames, fragments, a frame cut by the read, bad UTF-8) goes through it."""

    on_text: Callable[[str], None] | None = None

    def data_received(self, data: bytes) -> None:
        handler = self.on_text
        protocol = self.protocol
        texts = None
        if (
            handler is not None
            and protocol.state is State.OPEN
            and protocol.current_size is None  # no fragmented message under way
            and not protocol.reader.buffer  # the parser waits for a new frame
            and not len(self.recv_messages.frames)  # frames wait for ``recv``: keep the order
        ):
            texts = whole_text_frames(data, MAX_MESSAGE)
        if handler is None or texts is None:
            super().data_received(data)
            return
        for text in texts:
            _hand_over(handler, text)

    def process_event(self, event: Event) -> None:
        handler = self.on_text
        if (
            handler is None
            or not isinstance(event, Frame)
            or event.opcode is not Opcode.TEXT
            or not event.fin
            or len(self.recv_messages.frames)  # frames wait for ``recv``: keep the order
        ):
            super().process_event(event)
            return
        try:
            text = str(event.data, "utf-8")
        except UnicodeDecodeError:
            super().process_event(event)  # ``recv`` fails the connection (1007), as usual
            return
        _hand_over(handler, text)


def _hand_over(handler: Callable[[str], None], text: str) -> None:
    try:
        handler(text)
    except Exception:  # a bug in the handler must not break the socket's reading
        log.exception("stream message handler failed")


def whole_text_frames(data: bytes, max_size: int) -> list[str] | None:
    """The messages in ``data`` if it holds nothing but whole, unmasked, unfragmented text
    frames of valid UTF-8 up to ``max_size`` bytes each (RFC 6455 5.2, as a server sends
    them), else None."""
    texts = []
    at, end = 0, len(data)
    while at < end:
        if at + 2 > end or data[at] != 0x81:  # FIN, no RSV bits, text
            return None
        length = data[at + 1]
        at += 2
        if length == 126:
            if at + 2 > end:
                return None
            length = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif length > 126:  # a 64-bit length, or masked
            return None
        if at + length > end or length > max_size:
            return None
        try:
            texts.append(data[at : at + length].decode())
        except UnicodeDecodeError:
            return None
        at += length
    return texts


class _Masks:
    """Masking keys for our frames. RFC 6455 5.3 wants them from a strong source of
    entropy: ``os.urandom``, drawn 4 KiB at a time rather than one system call per frame
    (what ``websockets`` does through ``secrets.token_bytes``)."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        at = self._at
        if at + 4 > len(self._pool):
            self._pool, at = os.urandom(MASK_POOL), 0
        self._at = at + 4
        return self._pool[at : at + 4]


_masks = _Masks()


def text_frame(data: bytes, mask: bytes) -> bytes:
    """One unfragmented, masked text frame carrying ``data`` (RFC 6455 5.2), as a client
    sends it; what ``websockets`` builds through ``Frame.serialize``, without the objects."""
    length = len(data)
    if length < 126:
        head = _SHORT.pack(0x81, 0x80 | length)
    elif length < 65536:
        head = _MEDIUM.pack(0x81, 0x80 | 126, length)
    else:
        head = _LONG.pack(0x81, 0x80 | 127, length)
    return head + mask + apply_mask(data, mask)


class _WebSocket:
    def __init__(self, connection: _AgentConnection) -> None:
        self._connection = connection

    def listen(self, handler: Callable[[str], None] | None) -> None:
        self._connection.on_text = handler

    def write(self, message: str) -> bool:
        # The frame goes straight to the transport: no task switch, lock or drain per
        # message, which cost more than the JSON and the audio at 50 messages/s a call.
        # Built here rather than by the protocol (Frame, serialize, data_to_send); the
        # protocol keeps no state about whole text frames we send, so it is told nothing.
        connection = self._connection
        protocol = connection.protocol
        if (
            connection.paused
            or connection.send_in_progress is not None
            or protocol.state is not State.OPEN
            or protocol.expect_continuation_frame
            or protocol.writes  # the protocol's own frames go first: ``send`` keeps the order
            or connection.transport.is_closing()
        ):
            return False
        connection.transport.write(text_frame(message.encode(), _masks.next()))
        return True

    async def send(self, message: str) -> None:
        try:
            await self._connection.send(message)
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def recv(self) -> str | bytes:
        try:
            return await self._connection.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def close(self) -> None:
        await self._connection.close()


class StreamConnector(Protocol):
    async def connect(
        self, url: str, headers: Mapping[str, str], *, reach: Reach
    ) -> StreamSocket: ...


def _closed(exc: ConnectionClosed) -> StreamClosed:
    return StreamClosed(str(exc), clean=isinstance(exc, ConnectionClosedOK))


class StreamSockets:
    """Opens agent WebSockets for calls (``Services.streams``)."""

    def __init__(self, policy: OutboundPolicy | None = None) -> None:
        self.policy = policy or OutboundPolicy()

    async def connect(self, url: str, headers: Mapping[str, str], *, reach: Reach) -> StreamSocket:
        """An open socket to ``url``, or WebhookError saying why not (refused, timeout...)."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise WebhookError("not a ws:// or wss:// URL", url)
        try:
            port = parts.port or (443 if parts.scheme == "wss" else 80)
        except ValueError as exc:
            raise WebhookError(f"bad port: {exc}", url) from exc
        try:
            addresses = await self.policy.resolve(parts.hostname, port, reach)
            connection = await connect(
                url,
                host=addresses[0],
                port=port,
                additional_headers=dict(headers),
                open_timeout=CONNECT_TIMEOUT,
                max_size=MAX_MESSAGE,
                max_queue=MAX_QUEUE,
                compression=None,
                user_agent_header="Callplane",
                proxy=None,
                create_connection=_AgentConnection,
            )
            assert isinstance(connection, _AgentConnection)
            return _WebSocket(connection)
        except RefusedURL as exc:
            raise WebhookError(str(exc), url) from exc
        except TimeoutError as exc:
            raise WebhookError(f"no WebSocket within {CONNECT_TIMEOUT:g} s", url) from exc
        except (OSError, WebSocketException) as exc:
            raise WebhookError(f"WebSocket failed: {exc}", url) from exc
