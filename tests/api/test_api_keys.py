"""API keys (create once, authenticate like the token, revoke) and auth token rotation."""

from __future__ import annotations

import hashlib

import httpx
import plivo
import pytest
import sqlalchemy as sa
from plivo import exceptions

from callplane.store import tables
from tests.api.conftest import LiveServer


def _http(live: LiveServer, secret: str | None = None) -> httpx.Client:
    auth = (live.account.auth_id, secret or live.account.auth_token)
    return httpx.Client(base_url=f"{live.base_uri}/{live.account.auth_id}", auth=auth)


async def _stored_digests(live: LiveServer) -> list[str]:
    async with live.store._engine.connect() as conn:
        return list((await conn.execute(sa.select(tables.api_keys.c.secret_sha256))).scalars())


def test_key_authenticates_until_revoked(live: LiveServer) -> None:
    with _http(live) as http:
        created = http.post("/ApiKey/", json={"name": "export"})
        assert created.status_code == 201
        key = created.json()
        listed = http.get("/ApiKey/").json()
    assert key["key_id"].startswith("AK") and len(key["secret"]) == 40
    assert [k["name"] for k in listed["objects"]] == ["export"]
    assert "secret" not in listed["objects"][0]
    assert live.run(_stored_digests(live)) == [hashlib.sha256(key["secret"].encode()).hexdigest()]

    with plivo.RestClient(live.account.auth_id, key["secret"]) as sdk:
        assert sdk.account.get().auth_id == live.account.auth_id
        with _http(live) as http:
            assert http.delete(f"/ApiKey/{key['key_id']}/").status_code == 204
            assert http.delete(f"/ApiKey/{key['key_id']}/").status_code == 404
        with pytest.raises(exceptions.AuthenticationError):
            sdk.applications.list()


def test_key_of_one_account_does_not_open_another(
    live: LiveServer, client: plivo.RestClient
) -> None:
    sub = client.subaccounts.create(name="s", enabled=True)
    with _http(live) as http:
        secret = http.post("/ApiKey/", json={"name": "main"}).json()["secret"]
    response = httpx.get(f"{live.base_uri}/{sub.auth_id}/", auth=(sub.auth_id, secret))
    assert response.status_code == 401


def test_key_needs_a_name(live: LiveServer) -> None:
    with _http(live) as http:
        assert http.post("/ApiKey/", json={}).json()["fields"] == {"name": "required"}


def test_rotate_auth_token(live: LiveServer) -> None:
    old = live.account.auth_token
    with _http(live) as http:
        secret = http.post("/ApiKey/", json={"name": "k"}).json()["secret"]
        rotated = http.post("/AuthToken/")
    assert rotated.status_code == 200
    new = rotated.json()["auth_token"]
    assert new != old and len(new) == 40
    with _http(live, old) as stale:
        assert stale.get("/").status_code == 401
    for token in (new, secret):
        with _http(live, token) as fresh:
            assert fresh.get("/").status_code == 200
    account = live.run(live.store.get_account(live.account.auth_id))
    assert account is not None and account.auth_token == new
