"""Sub-accounts, API keys, token rotation and SIP endpoints in the store."""

from __future__ import annotations

import hashlib

import pytest

from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account, Application, CallRecord


async def test_subaccount_lifecycle(store: Store, account: Account) -> None:
    await store.update_account(account.auth_id, rate_per_minute="0.01", billing_interval=6)
    sub = await store.create_subaccount(account.auth_id, " Wayne ", enabled=True)
    assert sub.auth_id.startswith("SA") and len(sub.auth_id) == 20
    assert (sub.name, sub.rate_per_minute, sub.billing_interval) == ("Wayne", "0.01000", 6)
    assert await store.authenticate(sub.auth_id, sub.auth_token) == sub
    assert (await store.list_subaccounts(account.auth_id)).items == [sub]
    updated = await store.update_subaccount(account.auth_id, sub.auth_id, enabled=False)
    assert await store.authenticate(sub.auth_id, sub.auth_token) is None
    assert updated.enabled is False
    with pytest.raises(ValidationError):
        await store.create_subaccount(sub.auth_id, "nested")
    with pytest.raises(ValidationError):
        await store.create_subaccount(account.auth_id, "  ")


async def test_other_parents_subaccounts_are_not_found(store: Store, account: Account) -> None:
    sub = await store.create_subaccount(account.auth_id, "a")
    other = await store.create_subaccount(account.auth_id, "b")
    assert await store.get_subaccount(other.auth_id, sub.auth_id) is None
    with pytest.raises(NotFound):
        await store.update_subaccount(other.auth_id, sub.auth_id, name="x")
    with pytest.raises(NotFound):
        await store.resolve_owner(other.auth_id, sub.auth_id)
    assert await store.resolve_owner(account.auth_id, sub.auth_id) == sub.auth_id
    assert await store.resolve_owner(account.auth_id, None) == account.auth_id


async def test_scoped_lookups(store: Store, account: Account) -> None:
    sub = await store.create_subaccount(account.auth_id, "a")
    app = await store.create_application(Application("", sub.auth_id, "a", "http://x/"))
    await store.write_records([CallRecord("c1", sub.auth_id, "1", "2")])
    assert await store.get_application(account.auth_id, app.app_id) is None
    assert await store.get_application(account.auth_id, app.app_id, include_subaccounts=True)
    assert await store.get_call(account.auth_id, "c1", include_subaccounts=True) is not None
    sibling = await store.create_subaccount(account.auth_id, "b")
    assert await store.get_call(sibling.auth_id, "c1", include_subaccounts=True) is None


async def test_delete_subaccount_moves_or_cascades(store: Store, account: Account) -> None:
    sub = await store.create_subaccount(account.auth_id, "a")
    app = await store.create_application(
        Application("", sub.auth_id, "a", "http://x/", default_number_app=True)
    )
    await store.add_numbers(sub.auth_id, ["4930123456"])
    await store.create_api_key(sub.auth_id, "k")
    await store.delete_subaccount(account.auth_id, sub.auth_id)
    moved = await store.get_application(account.auth_id, app.app_id)
    assert moved is not None and moved.default_number_app is False
    route = store.route("4930123456")
    assert route is not None and route.account.auth_id == account.auth_id
    gone = await store.create_subaccount(account.auth_id, "b")
    app2 = await store.create_application(Application("", gone.auth_id, "b", "http://x/"))
    await store.delete_subaccount(account.auth_id, gone.auth_id, cascade=True)
    assert await store.get_application(account.auth_id, app2.app_id) is None
    assert await store.get_account(gone.auth_id) is None


async def test_api_keys_and_token_rotation(store: Store, account: Account) -> None:
    key, secret = await store.create_api_key(account.auth_id, "ci")
    assert key.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert await store.authenticate(account.auth_id, secret) == account
    rotated = await store.rotate_auth_token(account.auth_id)
    assert await store.authenticate(account.auth_id, account.auth_token) is None
    assert await store.authenticate(account.auth_id, rotated.auth_token) == rotated
    assert await store.authenticate(account.auth_id, secret) == rotated
    await store.revoke_api_key(account.auth_id, key.key_id)
    assert await store.authenticate(account.auth_id, secret) is None
    with pytest.raises(NotFound):
        await store.revoke_api_key(account.auth_id, key.key_id)


async def test_endpoints_keep_only_ha1(store: Store, account: Account) -> None:
    endpoint = await store.create_endpoint(account.auth_id, "alice", "s3cret-pass", alias="A")
    expected = hashlib.md5(b"alice:callplane:s3cret-pass").hexdigest()
    assert endpoint.ha1 == expected and endpoint.realm == "callplane"
    assert await store.find_endpoint("alice") == endpoint
    sub = await store.create_subaccount(account.auth_id, "s")
    with pytest.raises(ValidationError):
        await store.create_endpoint(sub.auth_id, "alice", "s3cret-pass")
    changed = await store.update_endpoint(account.auth_id, endpoint.endpoint_id, app_id="")
    assert changed.app_id is None
    with pytest.raises(NotFound):
        await store.update_endpoint(sub.auth_id, endpoint.endpoint_id, alias="x")
    with pytest.raises(NotFound):
        await store.delete_endpoint(sub.auth_id, endpoint.endpoint_id)
    await store.delete_endpoint(account.auth_id, endpoint.endpoint_id)
    assert await store.find_endpoint("alice") is None
