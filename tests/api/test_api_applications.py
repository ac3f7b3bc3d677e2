from __future__ import annotations

import plivo
import pytest
from plivo import exceptions

from tests.api.conftest import LiveServer

ANSWER = "http://127.0.0.1/answer"


def test_create_get_update_list_delete(client: plivo.RestClient, live: LiveServer) -> None:
    created = client.applications.create(app_name="ivr", answer_url=ANSWER, hangup_url=ANSWER)
    assert created.message == "created"
    assert created.app_id.isdigit()
    assert created.api_id

    app = client.applications.get(created.app_id)
    assert app.app_name == "ivr"
    assert app.answer_url == ANSWER
    assert app.answer_method == "POST"
    assert app.resource_uri == f"/v1/Account/{live.account.auth_id}/Application/{app.app_id}/"
    assert app.sip_uri.startswith(f"sip:{app.app_id}@")

    updated = client.applications.update(created.app_id, answer_url="http://127.0.0.1/v2")
    assert updated.message == "changed"
    assert client.applications.get(created.app_id).answer_url == "http://127.0.0.1/v2"

    listed = client.applications.list()
    assert [a.app_id for a in listed] == [created.app_id]
    assert listed.meta.total_count == 1

    assert client.applications.delete(created.app_id) is None
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.get(created.app_id)
    assert live.changes == 3


def test_list_pages_with_meta(client: plivo.RestClient) -> None:
    ids = [client.applications.create(app_name=f"a{i}", answer_url=ANSWER).app_id for i in range(5)]
    first = client.applications.list(limit=2, offset=0)
    assert first.meta.total_count == 5
    assert first.meta.previous is None
    assert "offset=2" in first.meta.next
    last = client.applications.list(limit=2, offset=4)
    assert last.meta.next is None
    assert "offset=2" in last.meta.previous
    walked = [app.app_id for app in client.applications]
    assert sorted(walked) == sorted(ids)


def test_missing_answer_url_names_the_field(client: plivo.RestClient) -> None:
    with pytest.raises(exceptions.ValidationError) as raised:
        client.applications.create(app_name="no answer")
    assert "answer_url" in str(raised.value)


def test_unknown_app_is_not_found(client: plivo.RestClient) -> None:
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.get("12345678901234567")
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.update("12345678901234567", answer_url=ANSWER)
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.delete("12345678901234567")


def test_ours_fields_round_trip(client: plivo.RestClient, live: LiveServer) -> None:
    import httpx

    auth = (live.account.auth_id, live.account.auth_token)
    url = f"{live.base_uri}/{live.account.auth_id}/Application"
    body = {
        "app_name": "pinned",
        "answer_url": ANSWER,
        "dialect": "twiml",
        "max_concurrent_calls": "3",
        "status_callback_url": ANSWER,
        "answer_method": "get",
    }
    response = httpx.post(url, data=body, auth=auth)  # form-encoded, no trailing slash
    assert response.status_code == 201
    app = client.applications.get(response.json()["app_id"])
    assert (app.dialect, app.max_concurrent_calls, app.answer_method) == ("twiml", 3, "GET")
    assert app.status_callback_url == ANSWER
