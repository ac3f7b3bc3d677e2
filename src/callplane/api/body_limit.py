"""Request bodies over the limit get 413 before they are read past it.

A declared ``Content-Length`` over the limit is refused at once, before a byte
of the body is read (a client that sent ``Expect: 100-continue`` never sends
it). A chunked body is counted as it arrives and refused at the chunk that
crosses the limit. The 413 closes the connection, so the rest of the upload is
neither read nor parsed: parsing runs on the event loop that carries calls.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callplane.api.http import ApiError, JsonResponse

DEFAULT_MAX_BODY = 1 << 20
CLOSE = (b"connection", b"close")


def too_large(max_bytes: int) -> str:
    return f"request body larger than {max_bytes} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            body = {"api_id": str(uuid.uuid4()), "error": too_large(self.max_bytes)}
            response = JsonResponse(body, status_code=413, headers={"connection": "close"})
            await response(scope, receive, send)
            return
        received = 0
        over = False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise ApiError(413, too_large(self.max_bytes))
            return message

        async def closing_send(message: Message) -> None:
            if over and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), CLOSE]}
            await send(message)

        await self.app(scope, counted_receive, closing_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
