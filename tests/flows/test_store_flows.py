"""Flows in the store: drafts, immutable published versions, ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from tests.flows.examples import dial_status, reject_calls


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield opened
    await opened.close()


async def test_draft_crud_and_versions(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    created = await store.create_flow(account.auth_id, "reject", reject_calls())
    assert created.document == reject_calls() and created.published_version is None
    first = await store.publish_flow(account.auth_id, created.flow_id, created.document)
    assert first.version == 1
    updated = await store.update_flow(account.auth_id, created.flow_id, document=dial_status())
    assert updated.name == "reject" and updated.document == dial_status()
    second = await store.publish_flow(account.auth_id, created.flow_id, updated.document)
    assert second.version == 2
    found = await store.get_flow(account.auth_id, created.flow_id)
    assert found is not None and found.published_version == 2
    old = await store.get_flow_version(account.auth_id, created.flow_id, 1)
    assert old is not None and old.document == reject_calls()
    page = await store.list_flow_versions(account.auth_id, created.flow_id)
    assert [v.version for v in page.items] == [2, 1] and page.total == 2
    listed = await store.list_flows(account.auth_id)
    assert [f.flow_id for f in listed.items] == [created.flow_id]
    await store.delete_flow(account.auth_id, created.flow_id)
    assert await store.get_flow_version(account.auth_id, created.flow_id, 1) is None
    with pytest.raises(NotFound):
        await store.delete_flow(account.auth_id, created.flow_id)


async def test_flows_belong_to_their_account(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    sub = await store.create_subaccount(account.auth_id, "sub", enabled=True)
    flow = await store.create_flow(sub.auth_id, "theirs", reject_calls())
    assert await store.get_flow(account.auth_id, flow.flow_id) is None
    assert await store.get_flow_version(account.auth_id, flow.flow_id, 1) is None
    with pytest.raises(NotFound):
        await store.publish_flow(account.auth_id, flow.flow_id, flow.document)
    with pytest.raises(NotFound):
        await store.list_flow_versions(account.auth_id, flow.flow_id)
    await store.delete_subaccount(account.auth_id, sub.auth_id)
    adopted = await store.get_flow(account.auth_id, flow.flow_id)
    assert adopted is not None and adopted.auth_id == account.auth_id


async def test_flow_name_is_checked(store: Store) -> None:
    account, _ = await store.ensure_main_account()
    with pytest.raises(ValidationError, match="name: at most 200 characters"):
        await store.create_flow(account.auth_id, "x" * 201, reject_calls())
