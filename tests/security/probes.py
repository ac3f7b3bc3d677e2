"""Raw clients for the security tests: a SIP OPTIONS prober and an HTTP uploader."""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType

from tests.sip.messages import request


class OptionsProbe:
    """SIP OPTIONS from a raw UDP socket, one every ``interval`` seconds, each timed
    from send to its 200 (``inf`` when none came within a second)."""

    def __init__(self, port: int, interval: float = 0.01) -> None:
        self.target = ("127.0.0.1", port)
        self.interval = interval
        self.round_trips: list[float] = []
        self.stopped = threading.Event()
        self.changed = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> OptionsProbe:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def mark(self) -> int:
        return len(self.round_trips)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` more probes than now have finished."""
        target = len(self.round_trips) + count
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.round_trips) >= target, timeout):
                raise AssertionError(f"only {len(self.round_trips)} OPTIONS probes finished")

    def _run(self) -> None:
        port = self.sock.getsockname()[1]
        for n in _count():
            if self.stopped.is_set():
                return
            branch = f"z9hG4bK-probe-{n}"
            call_id = f"probe-{n}@127.0.0.1"
            message = request("OPTIONS", branch, call_id, host="127.0.0.1", port=port)
            sent = time.monotonic()
            self.sock.sendto(message, self.target)
            rtt = self._reply_to(branch.encode(), sent)
            with self.changed:
                self.round_trips.append(rtt)
                self.changed.notify_all()
            self.stopped.wait(self.interval)

    def _reply_to(self, branch: bytes, sent: float) -> float:
        deadline = sent + 1.0
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            data = self.sock.recv(65535)
            if branch in data and data.startswith(b"SIP/2.0 200"):
                return time.monotonic() - sent
        return math.inf


def _count() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


def upload(
    port: int, path: str, auth: str, size: int, *, chunked: bool, chunk: int = 64 << 10
) -> tuple[int, bytes, int]:
    """POST ``size`` bytes of form body from a raw socket; stop sending once the server
    answers or closes. Returns (status, response, bytes of body sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n"
    )
    sock.sendall(head.encode())
    piece = b"a=" + b"x" * (chunk - 3) + b"&"
    if chunked:
        piece = b"%x\r\n%s\r\n" % (len(piece), piece)
    sent = 0
    try:
        while sent < size and not select.select([sock], [], [], 0)[0]:  # not answered yet
            sock.sendall(piece)
            sent += chunk
        if sent >= size and chunked:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed; its answer may still be readable
    response = _read_response(sock)
    sock.close()
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0
    return status, response, sent


def _read_response(sock: socket.socket) -> bytes:
    response = b""
    try:
        while data := sock.recv(65536):
            response += data
            if _complete(response):
                break
    except ConnectionResetError:
        pass
    return response


def _complete(response: bytes) -> bool:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False
