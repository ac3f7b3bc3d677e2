"""Auth, bodies, error shapes and Callplane's own resources (Blocklist, Account)."""

from __future__ import annotations

import httpx
import plivo
import pytest
from plivo import exceptions

from tests.api.conftest import LiveServer


def _http(live: LiveServer, auth: tuple[str, str] | None = None) -> httpx.Client:
    creds = auth or (live.account.auth_id, live.account.auth_token)
    return httpx.Client(base_url=f"{live.base_uri}/{live.account.auth_id}", auth=creds)


def test_bad_token_raises_authentication_error(live: LiveServer) -> None:
    with plivo.RestClient(live.account.auth_id, "wrong-token") as sdk:
        with pytest.raises(exceptions.AuthenticationError):
            sdk.applications.list()
        with pytest.raises(exceptions.AuthenticationError):
            sdk.applications.get("12345678901234567")


def test_path_must_name_the_authenticated_account(live: LiveServer) -> None:
    with _http(live) as http:
        response = http.get(f"{live.base_uri}/MA000000000000000000/Application/1/")
    assert response.status_code == 401
    assert set(response.json()) == {"api_id", "error"}


def test_no_credentials_is_401(live: LiveServer) -> None:
    response = httpx.get(f"{live.base_uri}/{live.account.auth_id}/Call/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_method_is_405_and_unknown_path_404(live: LiveServer) -> None:
    with _http(live) as http:
        assert http.delete("/Application/").status_code == 405
        missing = http.get("/Nothing/")
    assert missing.status_code == 404
    assert "api_id" in missing.json()


def test_bad_json_and_unknown_field_are_400(live: LiveServer) -> None:
    with _http(live) as http:
        bad = http.post("/Application/", content=b"{", headers={"content-type": "application/json"})
        unknown = http.post("/Application/", json={"app_name": "x", "answr_url": "http://a/"})
    assert bad.status_code == 400
    assert unknown.json()["fields"] == {"answr_url": "unknown parameter"}
    assert unknown.json()["error"] == "answr_url: unknown parameter"


def test_blocklist_create_list_delete(live: LiveServer) -> None:
    with _http(live) as http:
        created = http.post("/Blocklist/", json={"match": "prefix", "pattern": "+1900"})
        assert created.status_code == 201
        rule_id = created.json()["rule_id"]
        anonymous = http.post("/Blocklist", data={"match": "anonymous", "reason": "unwanted"})
        assert anonymous.status_code == 201
        listed = http.get("/Blocklist/").json()
        assert listed["meta"]["total_count"] == 2
        assert listed["objects"][0]["pattern"] == "1900"
        assert http.delete(f"/Blocklist/{rule_id}/").status_code == 204
        assert http.get(f"/Blocklist/{rule_id}/").status_code == 404


def test_blocklist_rejects_bad_reason_and_scope(live: LiveServer) -> None:
    with _http(live) as http:
        reason = http.post("/Blocklist/", json={"pattern": "1900", "reason": "go-away"})
        scope = http.post("/Blocklist/", json={"pattern": "1900", "number": "14155550100"})
        match = http.post("/Blocklist/", json={"pattern": "1900", "match": "regex"})
    assert list(reason.json()["fields"]) == ["reason"]
    assert list(scope.json()["fields"]) == ["number"]
    assert list(match.json()["fields"]) == ["match"]


def test_account_get_and_modify(live: LiveServer) -> None:
    with _http(live) as http:
        account = http.get("/").json()
        assert account["auth_id"] == live.account.auth_id
        assert "auth_token" not in account
        changed = http.post("", json={"name": "Acme", "inbound_cps": 25})
        assert changed.status_code == 202
        after = http.get("").json()
    assert (after["name"], after["inbound_cps"]) == ("Acme", 25.0)
    assert live.store.route("1") is None


def test_sdk_account_get(client: plivo.RestClient, live: LiveServer) -> None:
    details = client.account.get()
    assert details.auth_id == live.account.auth_id


def test_sdk_errors_are_text_with_the_fields_beside(
    live: LiveServer, client: plivo.RestClient
) -> None:
    """Plivo's ``error`` is a string: the SDKs print it (plivo-node printed [object Object])."""
    with pytest.raises(exceptions.ValidationError) as raised:
        client.applications.create(app_name="x", answer_url="http://a/", answer_method="PUT")
    assert str(raised.value) == "answer_method: must be GET or POST, not 'PUT'"
    with _http(live) as http:
        body = http.post("/Application/", json={"answer_url": "http://a/"}).json()
    assert body["error"] == "app_name: required" and body["fields"] == {"app_name": "required"}


@pytest.mark.parametrize("empty", [b'""', b"null", b""])
def test_an_empty_json_payload_is_an_empty_body(live: LiveServer, empty: bytes) -> None:
    """plivo-node's ``phlo(id).run()`` without a payload sends the JSON body ``""``."""
    with _http(live) as http:
        response = http.post(
            "/Blocklist/", content=empty, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400  # for the missing pattern, not for the body
    assert list(response.json()["fields"]) == ["pattern"]
