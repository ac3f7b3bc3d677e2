"""Real peers for interop tests: a customer webhook server, `callplane serve`, and SIPp."""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import httpx

SCENARIOS = Path(__file__).parent / "scenarios"
AUTH_ID = "MATESTACCOUNT0000000"
AUTH_TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"
# `callplane serve` flags for load from one address (benchmarks, bursts): no per-source limit.
LAB = ("--pike-threshold", "0")


@dataclass
class Recorded:
    method: str
    path: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes


@dataclass
class Page:
    body: bytes
    content_type: str = "application/xml"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. a redirect's Location


class BusyHTTPServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog for bursts of new connections
    (the default of 5 drops connection attempts when many calls start at once)."""

    daemon_threads = True
    request_queue_size = 512


class LocalHttp:
    """A threaded HTTP server on 127.0.0.1 that hands every GET and POST to ``_handle``."""

    httpd: BusyHTTPServer

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner._handle(self)

            def do_POST(self) -> None:
                owner._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = BusyHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@dataclass
class WebhookServer(LocalHttp):
    """The customer's web server: serves documents by path and records every request."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "application/xml",
        status: int = 200,
        delay: float = 0.0,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, content_type, status, delay)
        return self.url(path)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        ctype = h.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode(), keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
        elif ctype.startswith("application/json") and body:
            params.update({k: str(v) for k, v in json.loads(body).items()})
        host = h.headers.get("Host", "")
        with self.lock:
            self.requests.append(
                Recorded(
                    h.command,
                    parts.path,
                    f"http://{host}{h.path}",
                    dict(h.headers.items()),
                    params,
                    body,
                )
            )
        page = self.pages.get(parts.path, Page(b"", "text/plain", 200))
        if page.delay:
            time.sleep(page.delay)
        h.send_response(page.status)
        h.send_header("Content-Type", page.content_type)
        h.send_header("Content-Length", str(len(page.body)))
        for name, value in page.headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(page.body)

    def seen(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.seen(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} request(s) to {path}, got {self.seen(path)}")


# Ports tests pick now and bind later (servers, SIPp callees, gateways named in a server's
# configuration): below the servers' RTP ports (20000-30000) and the kernel's ephemeral
# ones (32768 up), so no client socket takes one meanwhile.
PICKED_PORTS = range(10000, 20000)


def _port_share() -> range:
    """This pytest-xdist worker's part of PICKED_PORTS (all of it without xdist)."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % count
    width = len(PICKED_PORTS) // count
    return range(PICKED_PORTS.start + index * width, PICKED_PORTS.start + (index + 1) * width)


@functools.cache
def _next_ports() -> Iterator[int]:
    """The share's ports in turn from a random one: none handed out twice until all were."""
    share = _port_share()
    first = random.randrange(len(share))
    return itertools.cycle([*share[first:], *share[:first]])


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1, not handed out before in this run."""
    ports = _next_ports()
    for _ in range(len(_port_share())):
        port = next(ports)
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        ):
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_port_share()}")


def free_ports(count: int) -> int:
    """A first port of ``count`` consecutive ports free for UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 60000:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    sock = socket.socket(socket.AF_INET, kind)
                    held.append(sock)
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()


@dataclass
class CallplaneServer:
    """`callplane serve` in a subprocess, as a user starts it."""

    data_dir: Path
    sip_port: int = 0
    http_port: int = 0
    extra: tuple[str, ...] = ()

    def start(self) -> CallplaneServer:
        self.sip_port = self.sip_port or free_port()
        self.http_port = self.http_port or free_port()
        env = {**os.environ, "CALLPLANE_AUTH_ID": AUTH_ID, "CALLPLANE_AUTH_TOKEN": AUTH_TOKEN}
        self.log = open(self.data_dir / "serve.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callplane",
                "--data-dir",
                str(self.data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--sip-port",
                str(self.sip_port),
                "--http-port",
                str(self.http_port),
                *self.extra,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60  # a busy CI machine can take long to import and migrate
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"callplane serve exited:\n{self.logs()}")
            try:
                self.api("GET", "")
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"callplane serve did not start:\n{self.logs()}")

    def logs(self) -> str:
        return (self.data_dir / "serve.log").read_text()

    def stop(self) -> int:
        """Stop at once (SIGINT: SIGTERM would drain, waiting for live calls)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/Account/{AUTH_ID}/"

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = httpx.request(
            method, self.api_base + path, auth=(AUTH_ID, AUTH_TOKEN), timeout=10, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else {}

    def application(self, answer_url: str, **fields: Any) -> str:
        body = {"app_name": f"app-{time.monotonic_ns()}", "answer_url": answer_url, **fields}
        return self.api("POST", "Application/", json=body)["app_id"]

    def number(self, number: str, app_id: str | None, **fields: Any) -> None:
        self.api("POST", "Number/", json={"numbers": number, "app_id": app_id})
        if fields:
            self.api("POST", f"Number/{number}/", json=fields)


@dataclass
class SippResult:
    returncode: int
    output: str


def sipp(
    workdir: Path,
    scenario: str,
    port: int,
    *,
    transport: str = "u1",
    timeout: int = 20,
    calls: int = 1,
    rate: int = 10,
    ip: str = "127.0.0.1",
    extra: Sequence[str] = (),
    **values: Any,
) -> SippResult:
    """Run one SIPp call from a scenario template (``{name}`` filled from values), sent
    from ``ip`` (another loopback address stands for another host), ``extra`` SIPp options."""
    cmd, path = sipp_command(
        workdir, scenario, port, transport, timeout, calls, rate, ip, extra, values
    )
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout + 10)
    traces = "".join(p.read_text(errors="replace") for p in workdir.glob(f"{path.stem}*_*.log"))
    return SippResult(proc.returncode, proc.stdout[-3000:] + proc.stderr[-3000:] + traces)


def sipp_start(
    workdir: Path,
    scenario: str,
    port: int,
    *,
    timeout: int = 60,
    calls: int = 1,
    rate: int = 10,
    **values: Any,
) -> subprocess.Popen[str]:
    """``sipp`` in the background (UDP, from 127.0.0.1); the caller waits for or kills it."""
    cmd, _ = sipp_command(
        workdir, scenario, port, "u1", timeout, calls, rate, "127.0.0.1", (), values
    )
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )


def sipp_command(
    workdir: Path,
    scenario: str,
    port: int,
    transport: str,
    timeout: int,
    calls: int,
    rate: int,
    ip: str,
    extra: Sequence[str],
    values: dict[str, Any],
) -> tuple[list[str], Path]:
    """The SIPp command line for ``sipp``/``sipp_start``, and the scenario file it runs."""
    assert shutil.which("sipp"), "sipp is not installed (Debian package sip-tester)"
    defaults = {"caller": "14155550100", "caller_name": "Alice Smith", "to": "15550001111"}
    text = (SCENARIOS / scenario).read_text().format(**{**defaults, **values})
    path = workdir / f"{scenario.removesuffix('.xml')}-{time.monotonic_ns()}.xml"
    path.write_text(text)
    cmd = [
        "sipp",
        "-sf",
        str(path),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-nostdin",
        "-i",
        ip,
        "-t",
        transport,
        "-timeout",
        f"{timeout}s",
        "-timeout_error",
        "-trace_err",
        "-trace_msg",
        *extra,
        f"127.0.0.1:{port}",
    ]
    return cmd, path


def _wait_bound_udp(port: int, proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """Wait until some socket holds UDP ``port`` (read from /proc: probing with a bind of
    our own could take the port from SIPp)."""
    wanted = f":{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        table = Path("/proc/net/udp").read_text()
        if any(line.split()[1].endswith(wanted) for line in table.splitlines()[1:]):
            return
        time.sleep(0.01)
    raise AssertionError(f"sipp did not bind UDP port {port} (exit code {proc.poll()})")


class SippUas:
    """SIPp as the callee: one call of ``scenario`` (a template, ``{name}`` filled from
    ``values``) on ``port``, or on a free port. ``stop_all`` ends what a test left running."""

    running: ClassVar[list[subprocess.Popen[str]]] = []

    def __init__(self, workdir: Path, scenario: str, port: int = 0, **values: object) -> None:
        assert shutil.which("sipp"), "sipp is not installed (Debian package sip-tester)"
        self.port = port or free_port()
        self.workdir = workdir
        text = (SCENARIOS / scenario).read_text().format(**values)
        stem = f"{scenario.removesuffix('.xml')}-{self.port}-{time.monotonic_ns()}"
        self.path = workdir / f"{stem}.xml"
        self.path.write_text(text)
        cmd = ["sipp", "-sf", str(self.path), "-p", str(self.port), "-i", "127.0.0.1", "-m", "1"]
        cmd += ["-nostdin", "-t", "u1", "-timeout", "25s", "-timeout_error"]
        cmd += ["-trace_err", "-trace_msg"]
        self.proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        SippUas.running.append(self.proc)
        _wait_bound_udp(self.port, self.proc)  # bound before the INVITE comes

    def uri(self, user: str = "15550001111") -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def result(self, timeout: float = 30) -> SippResult:
        try:
            output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        traces = "".join(
            p.read_text(errors="replace") for p in self.workdir.glob(f"{self.path.stem}*_*.log")
        )
        return SippResult(self.proc.returncode, output[-3000:] + traces)

    @classmethod
    def stop_all(cls) -> None:
        while cls.running:
            proc = cls.running.pop()
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
