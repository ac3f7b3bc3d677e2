"""A real HTTP server on 127.0.0.1 that records requests and plays scripted replies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCUMENT = b"<Response><Speak>hello</Speak></Response>"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay: float = 0.0
    body: bytes = DOCUMENT
    content_type: str = "application/xml"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # close the connection after replying (no "Connection: close")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # path and query, as requested
    headers: dict[str, str]
    body: bytes
    peer: int = 0  # the client's port: one per connection


@dataclass
class Recorder:
    """Requests seen, and replies to give: per path, consumed in order, then ``default``."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    script: dict[str, list[Reply]] = field(default_factory=dict)
    default: Reply = field(default_factory=Reply)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.script[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            queue = self.script.get(path.partition("?")[0])
            return queue.pop(0) if queue else self.default

    def record(self, request: Recorded) -> None:
        with self.lock:
            self.requests.append(request)

    def seen(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.partition("?")[0] == path]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer = self.client_address[1]
            recorder.record(Recorded(self.command, self.path, headers, body, peer))
            reply = recorder.next_reply(self.path)
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            if reply.close:
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs under a burst of connections

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is expected here


@contextmanager
def running_server() -> Iterator[Recorder]:
    recorder = Recorder()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(recorder))
    recorder.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
