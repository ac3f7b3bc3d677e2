from __future__ import annotations

import re
from pathlib import Path

import pytest

from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account, Application, CallRecord


async def test_main_account_is_created_once(store: Store) -> None:
    first, created = await store.ensure_main_account()
    assert created
    assert re.fullmatch(r"MA[A-Z0-9]{18}", first.auth_id)
    assert len(first.auth_token) == 40
    again, created_again = await store.ensure_main_account()
    assert (again, created_again) == (first, False)


async def test_given_credentials_replace_stored_ones(store: Store, account: Account) -> None:
    app = await store.create_application(Application("", account.auth_id, "a", "http://x/"))
    await store.add_numbers(account.auth_id, ["4930123456"], app_id=app.app_id)
    await store.write_records([CallRecord("c1", account.auth_id, "1", "2")])
    new_id = "MA" + "A" * 18
    updated, created = await store.ensure_main_account(new_id, "t" * 40)
    assert not created
    assert (updated.auth_id, updated.auth_token) == (new_id, "t" * 40)
    assert await store.get_application(new_id, app.app_id) is not None
    assert await store.get_call(new_id, "c1") is not None
    route = store.route("4930123456")
    assert route is not None and route.account.auth_id == new_id
    assert await store.get_account(account.auth_id) is None


async def test_bad_given_auth_id_is_rejected(store: Store) -> None:
    with pytest.raises(ValidationError) as raised:
        await store.ensure_main_account("nope", None)
    assert raised.value.field == "auth_id"


async def test_authenticate(store: Store, account: Account) -> None:
    assert await store.authenticate(account.auth_id, account.auth_token) == account
    assert await store.authenticate(account.auth_id, "wrong") is None
    assert await store.authenticate("MA" + "B" * 18, account.auth_token) is None


async def test_update_account_reaches_routes(store: Store, account: Account) -> None:
    await store.add_numbers(account.auth_id, ["4930123456"])
    updated = await store.update_account(account.auth_id, inbound_cps=2.5, name="Acme")
    assert (updated.inbound_cps, updated.name) == (2.5, "Acme")
    route = store.route("4930123456")
    assert route is not None and route.account.inbound_cps == 2.5
    with pytest.raises(ValidationError):
        await store.update_account(account.auth_id, inbound_cps=0)
    with pytest.raises(NotFound):
        await store.update_account("MA" + "C" * 18, name="x")


async def test_reopen_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    first = await Store.open(url)
    account, _ = await first.ensure_main_account()
    await first.add_numbers(account.auth_id, ["4930123456"])
    await first.close()
    second = await Store.open(url)
    try:
        assert second.route("4930123456") is not None
        assert (await second.ensure_main_account())[1] is False
    finally:
        await second.close()
