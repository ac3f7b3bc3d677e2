"""SIP endpoints through the plivo SDK; the password is write-only (stored as HA1)."""

from __future__ import annotations

import hashlib

import plivo
import pytest
from plivo import exceptions

from tests.api.conftest import LiveServer


def _ha1(username: str, password: str) -> str:
    return hashlib.md5(f"{username}:callplane:{password}".encode()).hexdigest()


def test_endpoint_crud(client: plivo.RestClient, live: LiveServer) -> None:
    app_id = client.applications.create(app_name="desk", answer_url="http://127.0.0.1/a").app_id
    created = client.endpoints.create(
        username="alice", password="s3cret-pass", alias="Alice", app_id=app_id
    )
    assert created.message == "created"
    assert (created.username, created.alias) == ("alice", "Alice")
    endpoint = client.endpoints.get(created.endpoint_id)
    assert endpoint.sip_uri == "sip:alice@127.0.0.1"
    assert endpoint.application == f"/v1/Account/{live.account.auth_id}/Application/{app_id}/"
    assert not hasattr(endpoint, "password") and not hasattr(endpoint, "ha1")
    stored = live.run(live.store.find_endpoint("alice"))
    assert stored is not None and stored.ha1 == _ha1("alice", "s3cret-pass")

    client.endpoints.update(created.endpoint_id, password="n3w-password", alias="Alice B")
    stored = live.run(live.store.find_endpoint("alice"))
    assert stored is not None and stored.ha1 == _ha1("alice", "n3w-password")
    assert client.endpoints.get(created.endpoint_id).alias == "Alice B"

    client.endpoints.create(username="bob", password="s3cret-pass", alias="Bob")
    listed = client.endpoints.list()
    assert [e.username for e in listed] == ["alice", "bob"]
    assert client.endpoints.delete(created.endpoint_id) is None
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.endpoints.get(created.endpoint_id)


def test_endpoint_validation(client: plivo.RestClient) -> None:
    client.endpoints.create(username="alice", password="s3cret-pass", alias="A")
    with pytest.raises(exceptions.ValidationError, match="already taken"):
        client.endpoints.create(username="alice", password="s3cret-pass", alias="A")
    with pytest.raises(exceptions.ValidationError, match="password"):
        client.endpoints.create(username="carol", password="short", alias="C")
    with pytest.raises(exceptions.ValidationError, match="username"):
        client.endpoints.create(username="bad user", password="s3cret-pass", alias="C")
    with pytest.raises(exceptions.ValidationError, match="app_id"):
        client.endpoints.create(username="dave", password="s3cret-pass", alias="D", app_id="1")


def test_endpoints_are_isolated(client: plivo.RestClient) -> None:
    sub = client.subaccounts.create(name="s", enabled=True)
    other = client.subaccounts.create(name="o", enabled=True)
    with plivo.RestClient(sub.auth_id, sub.auth_token) as sub_sdk:
        endpoint_id = sub_sdk.endpoints.create(
            username="subuser", password="s3cret-pass", alias="S"
        ).endpoint_id
    with plivo.RestClient(other.auth_id, other.auth_token) as other_sdk:
        with pytest.raises(exceptions.ResourceNotFoundError):
            other_sdk.endpoints.get(endpoint_id)
        with pytest.raises(exceptions.ResourceNotFoundError):
            other_sdk.endpoints.delete(endpoint_id)
        assert other_sdk.endpoints.list().meta.total_count == 0
    assert client.endpoints.get(endpoint_id).sub_account == sub.auth_id
    assert client.endpoints.list().meta.total_count == 0
