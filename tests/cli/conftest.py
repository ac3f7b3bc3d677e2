"""The CLI against a real uvicorn server (the API tests' LiveServer) via click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

from callplane.cli import main
from tests.api.conftest import LiveServer
from tests.store.databases import fresh_url, module_database

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[URL | None]:
    with module_database(request.module.__name__) as url:
        yield url


@pytest.fixture
def live(pg_database: URL | None, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(fresh_url(pg_database, tmp_path))
    yield server
    server.stop()


@pytest.fixture
def cli(live: LiveServer, tmp_path: Path) -> Run:
    """``cli("apps", "list")``: run as the main account; ``ok=False`` allows failure."""

    def run(*args: str, ok: bool = True, auth: tuple[str, str] | None = None) -> Result:
        auth_id, token = auth or (live.account.auth_id, live.account.auth_token)
        base = [
            "--api-url",
            f"http://127.0.0.1:{live.port}",
            "--auth-id",
            auth_id,
            "--auth-token",
            token,
            "--data-dir",
            str(tmp_path),
        ]
        runner = CliRunner(env={"COLUMNS": "250"})
        result = runner.invoke(main, [*base, *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
