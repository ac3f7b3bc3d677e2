"""A real uvicorn server on 127.0.0.1 with a temp store, driven by the plivo SDK.

The store is SQLite, or PostgreSQL when CALLPLANE_TEST_DATABASE_URL is set
(see ``tests/store/databases.py``).

The server and the store live on one event loop in a background thread; tests
(synchronous, like the SDK) reach the store through ``live.run(coro)``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import plivo
import plivo.rest.client
import pytest
import uvicorn
from sqlalchemy.engine import URL

from callplane.api import create_app
from callplane.config import Settings
from callplane.control.conference import ConferenceControl
from callplane.control.live import LiveCallControl
from callplane.control.originate import Originator
from callplane.control.router import Router
from callplane.control.services import Services
from callplane.net.sip_transport import SipTransport
from callplane.server import build_services
from callplane.store import Store
from tests.store.databases import fresh_url, module_database

T = TypeVar("T")

# Module constants the SDK reads when it builds a request URL.
_BASE_URL_CONSTANTS = (
    "PLIVO_API_BASE_URI",
    "API_VOICE_BASE_URI",
    "API_VOICE_BASE_URI_FALLBACK_1",
    "API_VOICE_BASE_URI_FALLBACK_2",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis names each operation's item (``test_x[GET /v1/...]``) but gives them
    all the node id ``...::test_x``; pytest-xdist tells items apart by node id and would
    run one operation only, so each gets the node id of its name."""
    for item in items:
        path, _, last = item.nodeid.rpartition("::")
        if last != item.name:
            named = f"{path}::{item.name}"
            if hasattr(item, "_id"):  # pytest >= 9.1 keeps node ids structured
                item._id = type(item._id).parse(named)
            else:
                item._nodeid = named


class LiveServer:
    """The API on uvicorn. With ``data_dir`` it has the real live-call and conference
    control (with no calls running) and bans; without, those routes answer 503."""

    def __init__(self, db_url: str, data_dir: Path | None = None) -> None:
        self.changes = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.store = self.run(Store.open(db_url))
        self.account, _ = self.run(self.store.ensure_main_account())
        live = guard = conferences = None
        self.sip: SipTransport | None = None
        if data_dir is not None:
            services = build_services(Settings(data_dir=data_dir), self.store)
            live, guard = LiveCallControl(services), services.guard
            conferences = ConferenceControl(services)
        app = create_app(
            self.store,
            on_change=self._on_change,
            live=live,
            conferences=conferences,
            guard=guard,
        )
        if data_dir is not None:  # POST /Call/ places real calls over a real SIP socket
            app.state.originator = self.run(self._originator(services))
            app.state.node = services.node  # GET /Node/
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.serving = asyncio.run_coroutine_threadsafe(self.server.serve(), self.loop)
        self.port = self._wait_for_port()

    async def _originator(self, services: Services) -> Originator:
        self.services = services
        self.router = router = Router(services, self.store)
        self.sip = router.sip = SipTransport(router.on_event)
        await self.sip.start("127.0.0.1", 0)
        return Originator(services, self.sip)

    async def _stop_calls(self) -> None:
        """As `callplane serve` stops: calls placed by the fuzzer end, callbacks go out."""
        assert self.sip is not None
        self.router.stop_all()
        await self.services.drain()
        await self.sip.close()
        await self.services.webhooks.aclose()
        await self.services.audio.aclose()

    def _on_change(self) -> None:
        self.changes += 1

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or self.serving.done():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def base_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/Account"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.serving.result(timeout=10)
        if self.sip is not None:
            self.run(self._stop_calls())
        self.run(self.store.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[URL | None]:
    with module_database(request.module.__name__) as url:
        yield url


@pytest.fixture
def live(
    pg_database: URL | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    server = LiveServer(fresh_url(pg_database, tmp_path))
    for name in _BASE_URL_CONSTANTS:
        monkeypatch.setattr(plivo.rest.client, name, server.base_uri)
    yield server
    server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[plivo.RestClient]:
    with plivo.RestClient(live.account.auth_id, live.account.auth_token) as sdk:
        yield sdk
