"""Property-based requests generated from /v1/openapi.json against a running server:
whatever the input, the API answers 2xx/4xx, never 5xx."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL

from callplane.api.openapi import document
from tests.api.conftest import LiveServer
from tests.store.databases import fresh_url

schema = schemathesis.openapi.from_dict(document())
EXAMPLES = int(os.environ.get("CALLPLANE_SCHEMATHESIS_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def server(
    pg_database: URL | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("schemathesis")
    live = LiveServer(fresh_url(pg_database, folder), data_dir=folder)
    yield live
    live.stop()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors(case: schemathesis.Case, server: LiveServer) -> None:
    # Read each time: the AuthToken operation rotates the token.
    account = server.run(server.store.get_account(server.account.auth_id))
    assert account is not None
    case.path_parameters = {**(case.path_parameters or {}), "auth_id": account.auth_id}
    basic = base64.b64encode(f"{account.auth_id}:{account.auth_token}".encode()).decode()
    case.headers = {**(case.headers or {}), "Authorization": f"Basic {basic}"}
    response = case.call(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)


def test_document_lists_every_operation() -> None:
    doc = document()
    assert len(doc["paths"]) == 47
    streams = doc["paths"]["/v1/Account/{auth_id}/Call/{call_uuid}/Stream/"]
    assert set(streams) == {"get", "post", "delete"}
    for path in ("Trunk/{trunk_id}/", "Flow/Components/", "Flow/{flow_id}/Run/{run_id}/"):
        assert f"/v1/Account/{{auth_id}}/{path}" in doc["paths"]
    assert set(doc["paths"]["/v1/Account/{auth_id}/Call/"]) == {"get", "post"}
    call = doc["paths"]["/v1/Account/{auth_id}/Call/{call_uuid}/"]
    assert set(call) == {"get", "post", "delete"}
    assert set(doc["paths"]["/v1/Account/{auth_id}/Recording/{recording_id}/"]) == {
        "get",
        "delete",
    }
    query = {p["name"] for p in doc["paths"]["/v1/Account/{auth_id}/Call/"]["get"]["parameters"]}
    assert {"bill_duration__gte", "end_time__lt", "subaccount", "limit"} <= query


def test_document_and_docs_page_are_served(tmp_path: Path) -> None:
    import httpx

    live = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        doc = httpx.get(f"http://127.0.0.1:{live.port}/v1/openapi.json").json()
        page = httpx.get(f"http://127.0.0.1:{live.port}/docs").text
    finally:
        live.stop()
    assert doc == document()
    assert "<script" not in page and "http" not in page.replace("https://example.com", "")[:0]
    for path in doc["paths"]:
        assert path.replace("{", "&#x7b;") in page or path in page
