from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callplane.store import Store
from callplane.store.models import Account


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'callplane.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def account(store: Store) -> Account:
    main, _ = await store.ensure_main_account()
    return main
