from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from callplane.store import Store
from callplane.store.models import Account
from tests.store.databases import fresh_url, module_database


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[URL | None]:
    with module_database(request.module.__name__) as url:
        yield url


@pytest.fixture
def database_url(pg_database: URL | None, tmp_path: Path) -> str:
    return fresh_url(pg_database, tmp_path)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


@pytest.fixture
async def account(store: Store) -> Account:
    main, _ = await store.ensure_main_account()
    return main
