"""Flows over HTTP (the plivo SDK has no Flow resource): CRUD, Validate, Publish, versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer
from tests.flows.examples import changed, dial_status, reject_calls


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    base = f"{live.base_uri}/{live.account.auth_id}/"
    auth = (live.account.auth_id, live.account.auth_token)
    with httpx.Client(base_url=base, auth=auth, timeout=10) as client:
        yield client


def _create(http: httpx.Client, doc: dict[str, Any]) -> str:
    response = http.post("Flow/", json={"document": doc})
    assert response.status_code == 201, response.text
    flow_id: str = response.json()["flow_id"]
    return flow_id


def test_flow_crud(http: httpx.Client, live: LiveServer) -> None:
    created = http.post("Flow/", json={"document": reject_calls()}).json()
    assert created["name"] == "reject incoming calls" and created["message"] == "created"
    assert "api_id" in created
    flow_id = created["flow_id"]
    got = http.get(f"Flow/{flow_id}/").json()
    assert got["document"] == reject_calls()
    assert got["resource_uri"] == f"/v1/Account/{live.account.auth_id}/Flow/{flow_id}/"
    assert got["published_version"] is None

    renamed = http.post(f"Flow/{flow_id}", json={"name": "refuse all"})
    assert renamed.status_code == 202 and renamed.json()["message"] == "changed"
    assert http.get(f"Flow/{flow_id}").json()["document"]["name"] == "refuse all"
    saved = http.post(f"Flow/{flow_id}/", json={"document": dial_status(), "name": "dial"})
    assert saved.status_code == 202
    assert http.get(f"Flow/{flow_id}/").json()["document"] == {**dial_status(), "name": "dial"}

    http.post("Flow/", json={"name": "empty"})
    listed = http.get("Flow/").json()
    assert [f["name"] for f in listed["objects"]] == ["dial", "empty"]
    assert listed["meta"]["total_count"] == 2 and "document" not in listed["objects"][0]

    assert http.delete(f"Flow/{flow_id}/").status_code == 204
    missing = http.get(f"Flow/{flow_id}/")
    assert missing.status_code == 404 and missing.json()["error"] == f"flow {flow_id} not found"


def test_empty_flow_from_a_name(http: httpx.Client) -> None:
    flow_id = http.post("Flow/", json={"name": "draft"}).json()["flow_id"]
    assert http.get(f"Flow/{flow_id}/").json()["document"] == {
        "schema": 1,
        "name": "draft",
        "nodes": [],
        "edges": [],
    }


def test_form_body_carries_the_document_as_text(http: httpx.Client) -> None:
    response = http.post("Flow/", data={"document": json.dumps(reject_calls())})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, {"document": "required (or a name, for an empty flow)"}),
        (
            {"document": {"schema": 9, "name": "x"}},
            {"document": "schema: unsupported version 9; this Callplane reads 1"},
        ),
        (
            {"document": "{"},
            {
                "document": "not valid JSON (Expecting property name enclosed in "
                "double quotes: line 1 column 2 (char 1))"
            },
        ),
        ({"document": reject_calls(), "colour": "red"}, {"colour": "unknown parameter"}),
        ({"name": "x" * 201}, {"document": "name: at most 200 characters"}),
    ],
)
def test_malformed_documents_are_400(
    http: httpx.Client, body: dict[str, Any], error: dict[str, str]
) -> None:
    response = http.post("Flow/", json=body)
    assert response.status_code == 400
    assert response.json()["fields"] == error
    assert response.json()["error"] == "; ".join(f"{k}: {v}" for k, v in error.items())


def test_an_invalid_draft_can_be_saved_and_validated(http: httpx.Client) -> None:
    doc = dial_status()
    doc["edges"] = [e for e in doc["edges"] if e["exit"] != "busy"]
    doc = changed(doc, "CallForward_1", to=None)
    flow_id = _create(http, doc)
    result = http.post(f"Flow/{flow_id}/Validate/")
    assert result.status_code == 200
    assert result.json()["valid"] is False
    assert result.json()["errors"] == [
        {"node": "CallForward_1", "message": "settings.to: required"},
        {"node": "HTTPRequest_3", "message": "not reachable from Start"},
    ]


def test_publish_keeps_versions(http: httpx.Client, live: LiveServer) -> None:
    flow_id = _create(http, reject_calls())
    checked = http.post(f"Flow/{flow_id}/Validate").json()
    assert (checked["flow_id"], checked["valid"], checked["errors"]) == (flow_id, True, [])
    first = http.post(f"Flow/{flow_id}/Publish/")
    assert first.status_code == 201
    assert (first.json()["version"], first.json()["message"]) == (1, "published")
    http.post(f"Flow/{flow_id}/", json={"document": dial_status()})
    assert http.post(f"Flow/{flow_id}/Publish/").json()["version"] == 2
    versions = http.get(f"Flow/{flow_id}/Version/").json()
    assert [v["version"] for v in versions["objects"]] == [2, 1]
    uri = versions["objects"][1]["resource_uri"]
    assert uri == f"/v1/Account/{live.account.auth_id}/Flow/{flow_id}/Version/1/"
    assert http.get(f"Flow/{flow_id}/Version/1/").json()["document"] == reject_calls()
    assert http.get(f"Flow/{flow_id}").json()["published_version"] == 2
    assert http.get(f"Flow/{flow_id}/Version/3/").status_code == 404
    bad = http.get(f"Flow/{flow_id}/Version/one/")
    assert bad.status_code == 400 and bad.json()["fields"] == {"version": "must be an integer"}


def test_publish_refuses_an_invalid_draft(http: httpx.Client) -> None:
    doc = reject_calls()
    doc["nodes"].append({"id": "Speak_1", "type": "speak", "settings": {}})
    flow_id = _create(http, doc)
    response = http.post(f"Flow/{flow_id}/Publish/")
    assert response.status_code == 400
    assert response.json()["error"] == "Speak_1: settings.text: required; not reachable from Start"
    assert response.json()["fields"] == {
        "Speak_1": "settings.text: required; not reachable from Start"
    }
    assert response.json()["errors"] == [
        {"node": "Speak_1", "message": "settings.text: required"},
        {"node": "Speak_1", "message": "not reachable from Start"},
    ]
    assert http.get(f"Flow/{flow_id}/Version/").json()["objects"] == []


def test_flows_are_private_to_their_account(http: httpx.Client, live: LiveServer) -> None:
    flow_id = _create(http, reject_calls())
    sub = http.post("Subaccount/", json={"name": "s", "enabled": True}).json()
    base = f"{live.base_uri}/{sub['auth_id']}/"
    with httpx.Client(base_url=base, auth=(sub["auth_id"], sub["auth_token"])) as other:
        assert other.get(f"Flow/{flow_id}/").status_code == 404
        assert other.post(f"Flow/{flow_id}/Publish/").status_code == 404
        assert other.delete(f"Flow/{flow_id}/").status_code == 404
        assert other.get("Flow/").json()["objects"] == []
    assert http.get(f"Flow/{flow_id}/", auth=("MA000", "x")).status_code == 401
