"""Test helpers: dominant frequency, level in dBFS, WAV bytes, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import numpy.typing as npt


def dominant_hz(pcm: npt.NDArray[np.int16], rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))


def dbfs(pcm: npt.NDArray[np.int16]) -> float:
    """Level in dB relative to a full-scale sine's RMS; -inf for silence."""
    level = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) if len(pcm) else 0.0
    if level == 0.0:
        return float("-inf")
    return float(20 * np.log10(level * np.sqrt(2) / 32767))


def wav_bytes(samples: npt.NDArray[np.int16], rate: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


@dataclass
class Route:
    body: bytes
    content_type: str = "audio/wav"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    cache_control: str | None = None


@dataclass
class AudioServer:
    """Serves ``routes``; counts every request and the conditional ones per path."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    conditional: dict[str, int] = field(default_factory=dict)
    not_modified: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: AudioServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests[self.path] = server.requests.get(self.path, 0) + 1
            route = server.routes.get(self.path)
            if route is None:
                self._send(404, "text/html", b"<html><body>Not Found</body></html>")
                return
            if self._conditional(route):
                server.not_modified[self.path] = server.not_modified.get(self.path, 0) + 1
                self._send(304, None, b"", route)
                return
            self._send(route.status, route.content_type, route.body, route)

        def _conditional(self, route: Route) -> bool:
            etag = self.headers.get("If-None-Match")
            since = self.headers.get("If-Modified-Since")
            if etag or since:
                server.conditional[self.path] = server.conditional.get(self.path, 0) + 1
            if etag is not None:
                return etag == route.etag
            return since is not None and since == route.last_modified

        def _send(
            self, status: int, ctype: str | None, body: bytes, route: Route | None = None
        ) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for name, value in _cache_headers(route):
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _cache_headers(route: Route | None) -> list[tuple[str, str]]:
    if route is None:
        return []
    pairs = [
        ("ETag", route.etag),
        ("Last-Modified", route.last_modified),
        ("Cache-Control", route.cache_control),
    ]
    return [(name, value) for name, value in pairs if value]


@contextmanager
def running_audio_server() -> Iterator[AudioServer]:
    state = AudioServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
