"""Plivo's signatures on every hop: a Plivo XML application behind HTTP redirects checks
each request it gets with the plivo SDK's own validators (``validate_v3_signature``,
``validate_signature`` for V2) against the URL it was requested at, as Plivo's guides
tell it to, and refuses (403) any request that does not validate. Real SIPp caller,
real `callplane serve`, real HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from plivo.utils import validate_signature, validate_v3_signature

from tests.interop.harness import AUTH_TOKEN, CallplaneServer, LocalHttp, sipp

NUMBER = "15557780001"


@dataclass
class Seen:
    method: str
    path: str
    v3: bool
    v2: bool


@dataclass
class PlivoApp(LocalHttp):
    """Documents by path, redirects by path (path -> (status, Location)), and both Plivo
    signatures checked on every request (403 when either does not validate)."""

    pages: dict[str, str] = field(default_factory=dict)
    moved: dict[str, tuple[int, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self) -> list[Seen]:
        with self.lock:
            return list(self.seen)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        url = f"http://{h.headers['Host']}{h.path}"  # what a framework's request.url gives
        method = h.command
        v3 = validate_v3_signature(
            method,
            url,
            h.headers.get("X-Plivo-Signature-V3-Nonce", ""),
            AUTH_TOKEN,
            h.headers.get("X-Plivo-Signature-V3", ""),
            form if method == "POST" else None,
        )
        v2 = validate_signature(
            url,
            h.headers.get("X-Plivo-Signature-V2-Nonce", ""),
            h.headers.get("X-Plivo-Signature-V2", ""),
            AUTH_TOKEN,
        )
        path = urlsplit(h.path).path
        with self.lock:
            self.seen.append(Seen(method, path, v3, v2))
        valid = v3 and v2
        redirect = self.moved.get(path) if valid else None
        document = self.pages.get(path, "").encode() if valid else b""
        h.send_response(redirect[0] if redirect else 200 if valid else 403)
        if redirect:
            h.send_header("Location", redirect[1])
        h.send_header("Content-Type", "application/xml" if document else "text/plain")
        h.send_header("Content-Length", str(len(document)))
        h.end_headers()
        h.wfile.write(document)


@pytest.fixture
def plivo_app() -> Iterator[PlivoApp]:
    app = PlivoApp().start()
    yield app
    app.stop()


def test_every_hop_of_redirects_is_signed_for_the_url_requested(
    callplane: CallplaneServer, plivo_app: PlivoApp, workdir: Path
) -> None:
    # answer -> <Redirect> next -> 307 (still a POST) moved -> 302 (now a GET) final?step=3
    plivo_app.pages["/answer"] = (
        f"<Response><Redirect>{plivo_app.url('/next')}</Redirect></Response>"
    )
    plivo_app.moved["/next"] = (307, "/moved")
    plivo_app.moved["/moved"] = (302, plivo_app.url("/final?step=3"))
    plivo_app.pages["/final"] = '<Response><Hangup reason="busy"/></Response>'
    app_id = callplane.application(
        plivo_app.url("/answer"), hangup_url=plivo_app.url("/status"), dialect="plivo"
    )
    callplane.number(NUMBER, app_id)

    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=NUMBER, code=486)

    assert result.returncode == 0, result.output
    deadline = time.monotonic() + 10
    while not any(s.path == "/status" for s in plivo_app.requests()):
        assert time.monotonic() < deadline, plivo_app.requests()
        time.sleep(0.02)
    seen = plivo_app.requests()
    assert [(s.method, s.path) for s in seen] == [
        ("POST", "/answer"),
        ("POST", "/next"),
        ("POST", "/moved"),
        ("GET", "/final"),
        ("POST", "/status"),
    ]
    assert all(s.v3 and s.v2 for s in seen), seen
