"""``/Trunk/`` over real HTTP (the plivo SDK has no trunk resource): CRUD, write-only
passwords, 400 naming the field, isolation between accounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer


def _client(live: LiveServer, auth_id: str = "", token: str = "") -> httpx.Client:
    auth_id = auth_id or live.account.auth_id
    return httpx.Client(
        base_url=f"{live.base_uri}/{auth_id}/",
        auth=(auth_id, token or live.account.auth_token),
        timeout=10,
    )


@pytest.fixture
def api(live: LiveServer) -> Any:
    with _client(live) as client:
        yield client


def test_trunk_crud_never_returns_passwords(api: httpx.Client, live: LiveServer) -> None:
    body = {
        "name": "carrier",
        "host": "192.0.2.10",
        "port": 5070,
        "username": "acme",
        "password": "gateway-secret",
        "prefixes": "1, 44",
        "inbound_acl": ["192.0.2.0/24"],
        "inbound_username": "carrier-in",
        "inbound_password": "inbound-secret",
    }
    created = api.post("Trunk/", json=body)
    assert created.status_code == 201, created.text
    trunk = created.json()
    assert trunk["message"] == "created" and trunk["prefixes"] == ["1", "44"]
    assert trunk["password_set"] is True and trunk["inbound_password_set"] is True
    assert "gateway-secret" not in created.text and "inbound-secret" not in created.text
    path = f"Trunk/{trunk['trunk_id']}/"
    assert trunk["resource_uri"] == f"/v1/Account/{live.account.auth_id}/{path}"

    shown = api.get(path).json()
    assert shown["host"] == "192.0.2.10" and shown["transport"] == "udp"
    assert "gateway-secret" not in api.get(path).text

    changed = api.post(path, data={"caller_id": "14155550100", "enabled": "false"})
    assert changed.status_code == 202 and changed.json()["enabled"] is False
    listed = api.get("Trunk/").json()
    assert listed["meta"]["total_count"] == 1
    assert listed["objects"][0]["caller_id"] == "14155550100"
    assert "gateway-secret" not in api.get("Trunk/").text

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host": "192.0.2.10"}, "name"),
        ({"name": "c"}, "host"),
        ({"name": "c", "host": "192.0.2.10", "port": "x"}, "port"),
        ({"name": "c", "host": "192.0.2.10", "port": 70000}, "port"),
        ({"name": "c", "host": "192.0.2.10", "transport": "tls"}, "transport"),
        ({"name": "c", "host": "192.0.2.10", "prefixes": {"a": 1}}, "prefixes"),
        ({"name": "c", "host": "192.0.2.10", "inbound_acl": "10.0.0.0/33"}, "inbound_acl"),
        ({"name": "c", "host": "192.0.2.10", "password": "p"}, "username"),
        ({"name": "c", "host": "192.0.2.10", "secret": "p"}, "secret"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = api.post("Trunk/", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


def test_trunks_are_isolated_between_accounts(api: httpx.Client, live: LiveServer) -> None:
    trunk = api.post("Trunk/", json={"name": "c", "host": "192.0.2.10"}).json()
    sub = api.post("Subaccount/", json={"name": "s", "enabled": True}).json()
    with _client(live, sub["auth_id"], sub["auth_token"]) as sub_api:
        assert sub_api.get(f"Trunk/{trunk['trunk_id']}/").status_code == 404
        assert sub_api.post(f"Trunk/{trunk['trunk_id']}/", json={"name": "x"}).status_code == 404
        assert sub_api.get("Trunk/").json()["objects"] == []
    assert api.get("Trunk/", auth=("MA0000", "wrong")).status_code == 401
