"""Account and Subaccount through the plivo SDK, and isolation between accounts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import plivo
import pytest
from plivo import exceptions

from callplane.store.models import CallRecord
from tests.api.conftest import LiveServer

ANSWER = "http://127.0.0.1/answer"
UNKNOWN_SUB = "SA" + "Z" * 18


def _sdk(auth_id: str, token: str) -> plivo.RestClient:
    return plivo.RestClient(auth_id, token)


@pytest.fixture
def subs(client: plivo.RestClient) -> Iterator[tuple[plivo.RestClient, plivo.RestClient]]:
    """Two enabled sub-accounts of the main account, as SDK clients."""
    made = [client.subaccounts.create(name=f"sub{i}", enabled=True) for i in (1, 2)]
    clients = [_sdk(m.auth_id, m.auth_token) for m in made]
    yield clients[0], clients[1]
    for sdk in clients:
        sdk.session.close()


def test_account_get_and_update_in_plivo_shape(client: plivo.RestClient, live: LiveServer) -> None:
    changed = client.account.update(name="Acme", city="Berlin", address="Hauptstr. 1")
    assert changed.message == "changed"
    account = client.account.get()
    assert (account.name, account.city, account.address) == ("Acme", "Berlin", "Hauptstr. 1")
    assert account.auth_id == live.account.auth_id
    assert account.resource_uri == f"/v1/Account/{live.account.auth_id}/"
    assert not hasattr(account, "auth_token")


def test_subaccount_crud_with_the_sdk(client: plivo.RestClient, live: LiveServer) -> None:
    created = client.subaccounts.create(name="Wayne", enabled=True)
    assert re.fullmatch(r"SA[A-Z0-9]{18}", created.auth_id)
    assert len(created.auth_token) == 40 and created.auth_token != live.account.auth_token
    sub = client.subaccounts.get(created.auth_id)
    assert (sub.name, sub.enabled) == ("Wayne", True)
    assert sub.account == f"/v1/Account/{live.account.auth_id}/"
    assert sub.resource_uri.endswith(f"/Subaccount/{created.auth_id}/")
    assert client.subaccounts.update(created.auth_id, "Wayne Ent", False).message == "changed"
    assert client.subaccounts.get(created.auth_id).name == "Wayne Ent"
    client.subaccounts.create(name="Other")
    listed = client.subaccounts.list(limit=1)
    assert listed.meta.total_count == 2
    assert [s.auth_id for s in listed] == [created.auth_id]
    assert client.subaccounts.delete(created.auth_id, cascade=True) is None
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.subaccounts.get(created.auth_id)


def test_subaccount_signs_in_with_its_own_token(client: plivo.RestClient) -> None:
    created = client.subaccounts.create(name="Wayne", enabled=True)
    with _sdk(created.auth_id, created.auth_token) as sub:
        me = sub.account.get()
        assert me.auth_id == created.auth_id
        assert me.parent_auth_id == client.session.auth[0]
    disabled = client.subaccounts.create(name="Off")
    with (
        _sdk(disabled.auth_id, disabled.auth_token) as off,
        pytest.raises(exceptions.AuthenticationError),
    ):
        off.applications.list()


def test_unknown_or_foreign_subaccount_is_404(
    client: plivo.RestClient, subs: tuple[plivo.RestClient, plivo.RestClient]
) -> None:
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.subaccounts.get(UNKNOWN_SUB)
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.list(subaccount=UNKNOWN_SUB)


def test_subaccount_cannot_manage_subaccounts(
    subs: tuple[plivo.RestClient, plivo.RestClient], live: LiveServer
) -> None:
    first, _ = subs
    auth_id, token = first.session.auth
    response = httpx.get(f"{live.base_uri}/{auth_id}/Subaccount/", auth=(auth_id, token))
    assert response.status_code == 403
    with pytest.raises(exceptions.PlivoRestError):
        first.subaccounts.create(name="nested")


def test_applications_are_isolated(
    client: plivo.RestClient, subs: tuple[plivo.RestClient, plivo.RestClient]
) -> None:
    first, second = subs
    main_app = client.applications.create(app_name="main", answer_url=ANSWER).app_id
    sub_app = first.applications.create(app_name="sub", answer_url=ANSWER).app_id
    for outsider, app_id in ((first, main_app), (second, sub_app)):
        with pytest.raises(exceptions.ResourceNotFoundError):
            outsider.applications.get(app_id)
        with pytest.raises(exceptions.ResourceNotFoundError):
            outsider.applications.update(app_id, answer_url=ANSWER)
        with pytest.raises(exceptions.ResourceNotFoundError):
            outsider.applications.delete(app_id)
    assert [a.app_id for a in first.applications.list()] == [sub_app]
    assert [a.app_id for a in client.applications.list()] == [main_app]
    # The main account sees and acts on its sub-accounts' applications.
    sub_id = first.session.auth[0]
    seen = client.applications.get(sub_app)
    assert seen.sub_account == sub_id
    assert [a.app_id for a in client.applications.list(subaccount=sub_id)] == [sub_app]
    client.applications.update(sub_app, answer_url="http://127.0.0.1/v2")
    assert first.applications.get(sub_app).answer_url == "http://127.0.0.1/v2"


def test_main_creates_for_and_gives_numbers_to_a_subaccount(
    client: plivo.RestClient, subs: tuple[plivo.RestClient, plivo.RestClient], live: LiveServer
) -> None:
    first, second = subs
    sub_id = first.session.auth[0]
    app_id = client.applications.create(
        app_name="for-sub", answer_url=ANSWER, subaccount=sub_id
    ).app_id
    assert first.applications.get(app_id).app_name == "for-sub"
    live.run(live.store.add_numbers(live.account.auth_id, ["14155550100"]))
    with pytest.raises(exceptions.ResourceNotFoundError):
        first.numbers.get("14155550100")
    client.numbers.update("14155550100", app_id=app_id, subaccount=sub_id)
    assert first.numbers.get("14155550100").app_id == app_id
    route = live.store.route("14155550100")
    assert route is not None and route.account.auth_id == sub_id
    with pytest.raises(exceptions.ResourceNotFoundError):
        second.numbers.get("14155550100")
    assert [n.number for n in client.numbers.list(subaccount=sub_id)] == ["14155550100"]


def test_call_records_are_isolated(
    client: plivo.RestClient, subs: tuple[plivo.RestClient, plivo.RestClient], live: LiveServer
) -> None:
    first, second = subs
    sub_id = first.session.auth[0]
    live.run(live.store.write_records([CallRecord("sub-call", sub_id, "1", "2", state="ended")]))
    assert first.calls.get("sub-call").call_uuid == "sub-call"
    assert client.calls.get("sub-call").call_uuid == "sub-call"
    with pytest.raises(exceptions.ResourceNotFoundError):
        second.calls.get("sub-call")
    assert [c.call_uuid for c in client.calls.list(subaccount=sub_id)] == ["sub-call"]
    assert client.calls.list().meta.total_count == 0
    with pytest.raises(exceptions.ResourceNotFoundError):
        second.calls.list(subaccount=sub_id)


def test_delete_without_cascade_gives_resources_to_the_main_account(
    client: plivo.RestClient, live: LiveServer
) -> None:
    created = client.subaccounts.create(name="Wayne", enabled=True)
    with _sdk(created.auth_id, created.auth_token) as sub:
        app_id = sub.applications.create(app_name="kept", answer_url=ANSWER).app_id
        doomed = sub.applications.create(app_name="x", answer_url=ANSWER).app_id
    client.subaccounts.delete(created.auth_id)
    assert client.applications.get(app_id).sub_account is None
    other = client.subaccounts.create(name="Gone", enabled=True)
    with _sdk(other.auth_id, other.auth_token) as sub:
        cascaded = sub.applications.create(app_name="gone", answer_url=ANSWER).app_id
    client.subaccounts.delete(other.auth_id, cascade=True)
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.applications.get(cascaded)
    assert client.applications.get(doomed).app_name == "x"


def test_pricing_is_set_by_the_main_account(
    client: plivo.RestClient, subs: tuple[plivo.RestClient, plivo.RestClient], live: LiveServer
) -> None:
    base = f"{live.base_uri}/{live.account.auth_id}/"
    creds = (live.account.auth_id, live.account.auth_token)
    response = httpx.post(
        base, json={"rate_per_minute": "0.012", "billing_interval": 6}, auth=creds
    )
    assert response.status_code == 202
    details = client.account.get()
    assert (details.rate_per_minute, details.billing_interval) == ("0.01200", 6)
    sub_id, sub_token = subs[0].session.auth
    refused = httpx.post(
        f"{live.base_uri}/{sub_id}/", json={"rate_per_minute": "0"}, auth=(sub_id, sub_token)
    )
    assert refused.status_code == 403
    priced = httpx.post(f"{base}Subaccount/{sub_id}/", json={"rate_per_minute": "0.02"}, auth=creds)
    assert priced.status_code == 202
    assert subs[0].account.get().rate_per_minute == "0.02000"
    bad = httpx.post(base, json={"rate_per_minute": "cheap"}, auth=creds)
    assert bad.json()["fields"] == {"rate_per_minute": "must be a decimal number, not 'cheap'"}
