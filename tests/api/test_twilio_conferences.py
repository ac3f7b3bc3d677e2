"""Twilio's Conference routes without calls, through the twilio SDK and HTTP: empty
lists, 404 (20404) for conferences and participants that do not exist, 400 for bad
filters and fields, 405 for adding a participant, 503 without conference control.

Rooms with members are tested end to end, with real phones, in
tests/interop/test_twilio_conferences.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from callplane.store.ids import twilio_account_sid
from tests.api.conftest import LiveServer

NO_ROOM = "CF" + "0" * 32
NO_CALL = "CA" + "0" * 32


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    yield live
    live.stop()


def twilio(server: LiveServer) -> Client:
    client = Client(twilio_account_sid(server.account.auth_id), server.account.auth_token)
    client.api.base_url = server.base_uri.split("/v1/")[0]
    return client


def conferences_url(server: LiveServer) -> str:
    sid = twilio_account_sid(server.account.auth_id)
    return f"{server.base_uri.split('/v1/')[0]}/2010-04-01/Accounts/{sid}/Conferences"


def test_no_conferences_are_listed_and_unknown_ones_are_not_found(server: LiveServer) -> None:
    client = twilio(server)
    assert client.conferences.list() == []
    assert client.conferences.list(status="completed", friendly_name="room1") == []
    for action in (
        lambda: client.conferences(NO_ROOM).fetch(),
        lambda: client.conferences(NO_ROOM).update(status="completed"),
        lambda: client.conferences(NO_ROOM).participants(NO_CALL).update(muted=True),
        lambda: client.conferences(NO_ROOM).participants(NO_CALL).delete(),
        lambda: client.conferences("not-a-sid").fetch(),
    ):
        with pytest.raises(TwilioRestException) as missing:
            action()
        assert missing.value.status == 404 and missing.value.code == 20404
    with pytest.raises(TwilioException, match="20404"):  # the SDK's lists raise this
        client.conferences(NO_ROOM).participants.list()


def test_bad_filters_and_fields_are_refused_naming_them(server: LiveServer) -> None:
    url = conferences_url(server)
    creds = (twilio_account_sid(server.account.auth_id), server.account.auth_token)
    cases = [
        ("GET", f"{url}.json", {"Status": "ringing"}, None, "Status"),
        ("GET", f"{url}.json", {"DateCreated": "yesterday"}, None, "DateCreated"),
        ("GET", f"{url}.json", {"Loud": "yes"}, None, "Loud"),
        ("POST", f"{url}/{NO_ROOM}.json", None, {"Status": "paused"}, "Status"),
        ("POST", f"{url}/{NO_ROOM}.json", None, {"AnnounceUrl": "ftp://x/y.wav"}, "AnnounceUrl"),
        (
            "POST",
            f"{url}/{NO_ROOM}/Participants/{NO_CALL}.json",
            None,
            {"Coaching": "true"},
            "Coaching",
        ),
        ("POST", f"{url}/{NO_ROOM}/Participants/{NO_CALL}.json", None, {"Muted": "maybe"}, "Muted"),
    ]
    for method, path, query, form, name in cases:
        response = httpx.request(method, path, params=query, data=form, auth=creds)
        assert response.status_code == 400, (path, query, form, response.text)
        assert name in response.json()["message"], (path, response.text)
    added = httpx.post(
        f"{url}/{NO_ROOM}/Participants.json", data={"From": "1", "To": "2"}, auth=creds
    )
    assert added.status_code == 405 and added.json()["code"] == 20004
    assert "<Conference>" in added.json()["message"]


def test_without_conference_control_the_paths_answer_503(tmp_path: Path) -> None:
    server = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with pytest.raises(TwilioException, match=r"HTTP 503.*20503"):
            twilio(server).conferences.list()
    finally:
        server.stop()
