from __future__ import annotations

import plivo
import pytest
from plivo import exceptions

from tests.api.conftest import LiveServer

ANSWER = "http://127.0.0.1/answer"


def test_add_update_list_get_delete(client: plivo.RestClient, live: LiveServer) -> None:
    app_id = client.applications.create(app_name="ivr", answer_url=ANSWER).app_id
    added = client.numbers.create(
        numbers="+14155550100,14155550101", carrier="trunk1", region="California", app_id=app_id
    )
    assert added.message == "changed"

    number = client.numbers.get("14155550100")
    assert number.number == "14155550100"
    assert number.carrier == "trunk1"
    assert number.region == "California"
    assert number.number_type == "local"
    assert number.application == f"/v1/Account/{live.account.auth_id}/Application/{app_id}/"
    assert live.store.route("+14155550100").application.app_id == app_id

    assert client.numbers.update("14155550101", alias="sales").message == "changed"
    listed = client.numbers.list(alias="sales")
    assert [n.number for n in listed] == ["14155550101"]
    assert client.numbers.list(number_startswith="1415").meta.total_count == 2
    assert client.numbers.list(type="tollfree").meta.total_count == 0

    assert client.numbers.delete("14155550100") is None
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.numbers.get("14155550100")
    assert live.store.route("14155550100") is None


def test_unassign_app_and_bad_number(client: plivo.RestClient, live: LiveServer) -> None:
    app_id = client.applications.create(app_name="ivr", answer_url=ANSWER).app_id
    client.numbers.create(numbers="4930123456", carrier="c", region="Berlin", app_id=app_id)
    client.numbers.update("4930123456", app_id="")
    assert client.numbers.get("4930123456").application is None
    with pytest.raises(exceptions.ValidationError) as raised:
        client.numbers.create(numbers="12ab", carrier="c", region="r")
    assert "numbers" in str(raised.value)
    with pytest.raises(exceptions.ValidationError) as raised:
        client.numbers.update("4930123456", app_id="999")
    assert "app_id" in str(raised.value)


def test_deleting_an_app_unassigns_its_numbers(client: plivo.RestClient) -> None:
    app_id = client.applications.create(app_name="ivr", answer_url=ANSWER).app_id
    client.numbers.create(numbers="4930123456", carrier="c", region="Berlin", app_id=app_id)
    client.applications.delete(app_id)
    assert client.numbers.get("4930123456").application is None
