"""Applications, numbers and block rules, and the routing table they feed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callplane.control.screening import blocked_reason
from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account, Application, BlockMatch, BlockRule


def _app(account: Account, name: str = "ivr", **fields: Any) -> Application:
    return Application("", account.auth_id, name, "http://127.0.0.1/answer", **fields)


def _rule(account: Account, pattern: str, reason: str, **scope: Any) -> BlockRule:
    return BlockRule("", account.auth_id, BlockMatch.PREFIX, pattern, reason, **scope)


async def test_route_is_read_from_memory(store: Store, account: Account) -> None:
    app = await store.create_application(_app(account))
    await store.add_numbers(account.auth_id, ["+1 415-555-0100"], app_id=app.app_id)
    route = store.route("+14155550100")
    assert route is not None
    assert (route.number.number, route.account, route.application) == ("14155550100", account, app)
    assert store.route("14155550100") is route
    assert store.route("14155550199") is None


async def test_route_follows_every_write(store: Store, account: Account) -> None:
    app = await store.create_application(_app(account))
    await store.add_numbers(account.auth_id, ["4930123456"])
    await store.update_number(account.auth_id, "4930123456", {"app_id": app.app_id})
    await store.update_application(account.auth_id, app.app_id, {"answer_url": "http://h/v2"})
    route = store.route("4930123456")
    assert route is not None and route.application is not None
    assert route.application.answer_url == "http://h/v2"
    await store.delete_application(account.auth_id, app.app_id)
    route = store.route("4930123456")
    assert route is not None and route.application is None
    await store.delete_number(account.auth_id, "4930123456")
    assert store.route("4930123456") is None


async def test_rules_scope_number_app_account(store: Store, account: Account) -> None:
    app = await store.create_application(_app(account))
    await store.add_numbers(account.auth_id, ["4930000001", "4930000002"], app_id=app.app_id)
    await store.add_numbers(account.auth_id, ["4930000003"])
    everyone = await store.add_block_rule(_rule(account, "1900", "unwanted"))
    for_app = await store.add_block_rule(_rule(account, "1800", "busy", app_id=app.app_id))
    for_one = await store.add_block_rule(_rule(account, "1800", "forbidden", number="4930000001"))

    def rules(number: str) -> tuple[BlockRule, ...]:
        route = store.route(number)
        assert route is not None
        return route.block_rules

    assert rules("4930000001") == (for_one, for_app, everyone)
    assert rules("4930000002") == (for_app, everyone)
    assert rules("4930000003") == (everyone,)
    assert blocked_reason(rules("4930000001"), "18005551234", False) == "forbidden"
    assert blocked_reason(rules("4930000002"), "18005551234", False) == "busy"
    assert blocked_reason(rules("4930000003"), "18005551234", False) is None


async def test_rules_of_another_account_do_not_apply(store: Store, account: Account) -> None:
    other = Account("MA" + "Z" * 18, "t" * 40, "other", parent_auth_id=account.auth_id)
    await _insert_account(store, other)
    await store.add_numbers(other.auth_id, ["4930000009"])
    await store.add_block_rule(_rule(account, "1900", "unwanted"))
    route = store.route("4930000009")
    assert route is not None and route.block_rules == ()


async def _insert_account(store: Store, account: Account) -> None:
    import sqlalchemy as sa

    from callplane.store import rows, tables

    async with store._engine.begin() as conn:  # no sub-account API yet
        await conn.execute(sa.insert(tables.accounts).values(**rows.to_row(account)))
    await store.reload_routes()


async def test_deleting_app_or_number_drops_their_rules(store: Store, account: Account) -> None:
    app = await store.create_application(_app(account))
    await store.add_numbers(account.auth_id, ["4930000001"], app_id=app.app_id)
    await store.add_block_rule(_rule(account, "1", "busy", app_id=app.app_id))
    await store.add_block_rule(_rule(account, "2", "busy", number="4930000001"))
    await store.delete_application(account.auth_id, app.app_id)
    assert (await store.list_block_rules(account.auth_id)).total == 1
    await store.delete_number(account.auth_id, "4930000001")
    assert (await store.list_block_rules(account.auth_id)).total == 0


@pytest.mark.parametrize("raw", ["1234567", "1234567890123456", "+49 30 12ab", ""])
async def test_numbers_must_be_e164(store: Store, account: Account, raw: str) -> None:
    with pytest.raises(ValidationError) as raised:
        await store.add_numbers(account.auth_id, [raw])
    assert raised.value.field == "numbers"


async def test_number_can_be_added_once(store: Store, account: Account) -> None:
    await store.add_numbers(account.auth_id, ["4930123456"])
    with pytest.raises(ValidationError):
        await store.add_numbers(account.auth_id, ["+49-30-123456"])


async def test_default_number_app_is_used_and_unique(store: Store, account: Account) -> None:
    first = await store.create_application(_app(account, "one", default_number_app=True))
    second = await store.create_application(_app(account, "two", default_number_app=True))
    [number] = await store.add_numbers(account.auth_id, ["4930123456"])
    assert number.app_id == second.app_id
    reread = await store.get_application(account.auth_id, first.app_id)
    assert reread is not None and not reread.default_number_app


async def test_application_validation_names_fields(store: Store, account: Account) -> None:
    cases = {
        "answer_url": Application("", account.auth_id, "a", ""),
        "answer_method": _app(account, answer_method="PUT"),
        "dialect": _app(account, dialect="vxml"),
        "hangup_url": _app(account, hangup_url="ftp://x"),
    }
    for field, app in cases.items():
        with pytest.raises(ValidationError) as raised:
            await store.create_application(app)
        assert raised.value.field == field
    with pytest.raises(NotFound):
        await store.update_application(account.auth_id, "404", {"app_name": "x"})


async def test_list_applications_pages(store: Store, account: Account) -> None:
    for i in range(5):
        await store.create_application(_app(account, f"a{i}"))
    page = await store.list_applications(account.auth_id, limit=2, offset=4)
    assert (len(page.items), page.total) == (1, 5)


async def test_another_node_sees_configuration_writes(
    store: Store, account: Account, database_url: str
) -> None:
    """Two stores on one PostgreSQL database stand for two cluster nodes."""
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "configuration changes between nodes need PostgreSQL (CALLPLANE_TEST_DATABASE_URL)"
        )
    other = await Store.open(database_url)
    try:
        app = await store.create_application(_app(account))
        await store.add_numbers(account.auth_id, ["+14155550177"], app_id=app.app_id)
        for _ in range(500):  # a notification and a reload: milliseconds
            route = other.route("14155550177")
            if route is not None:
                break
            await asyncio.sleep(0.01)
        assert route is not None and route.application == app
    finally:
        await other.close()
