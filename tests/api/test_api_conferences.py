"""Conference routes without calls: 503 without conference control, else 404 for rooms
that are not running and 400 for bad parameters, through the plivo SDK and HTTP.

Rooms with members are tested end to end, with real phones, in
tests/interop/test_conference_api.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import plivo
import plivo.rest.client
import pytest
from plivo import exceptions

from tests.api.conftest import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    yield live
    live.stop()


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    creds = (server.account.auth_id, server.account.auth_token)
    base = f"{server.base_uri}/{server.account.auth_id}"
    with httpx.Client(base_url=base, auth=creds) as client:
        yield client


def test_without_conference_control_the_paths_answer_503(tmp_path: Path) -> None:
    server = LiveServer(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        creds = (server.account.auth_id, server.account.auth_token)
        base = f"{server.base_uri}/{server.account.auth_id}"
        for method, path in [
            ("GET", "/Conference/"),
            ("DELETE", "/Conference/"),
            ("GET", "/Conference/room/"),
            ("POST", "/Conference/room/Member/1/Mute/"),
        ]:
            response = httpx.request(method, base + path, auth=creds)
            assert response.status_code == 503, (method, path)
            assert "not available" in response.json()["error"]
        assert httpx.get(f"{base}/Conference/").status_code == 401  # auth first
    finally:
        server.stop()


def test_rooms_not_running_are_not_found_through_the_sdk(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plivo.rest.client, "API_VOICE_BASE_URI", server.base_uri)
    with plivo.RestClient(server.account.auth_id, server.account.auth_token) as sdk:
        assert sdk.conferences.list().conferences == []
        sdk.conferences.hangup_all()  # nothing to hang up: still fine
        with pytest.raises(exceptions.ResourceNotFoundError, match="conference room1"):
            sdk.conferences.get("room1")
        with pytest.raises(exceptions.ResourceNotFoundError):
            sdk.conferences.hangup("room1")
        with pytest.raises(exceptions.ResourceNotFoundError):
            sdk.conferences.member_mute("room1", "1")
        with pytest.raises(exceptions.ResourceNotFoundError):
            sdk.conferences.member_speak("room1", "all", "hello")
        with pytest.raises(exceptions.ResourceNotFoundError):
            sdk.conferences.record("room1", file_format="wav")
        with pytest.raises(exceptions.ResourceNotFoundError):
            sdk.conferences.record_stop("room1")


def test_bad_parameters_are_refused_naming_them(http: httpx.Client) -> None:
    cases = [
        ("POST", "/Conference/room1/Member/1,,2/Mute/", {}, "member_id"),
        ("POST", "/Conference/room1/Member/1/Play/", {"url": "ftp://x/y.wav"}, "url"),
        ("POST", "/Conference/room1/Member/1/Play/", {}, "url"),
        ("POST", "/Conference/room1/Member/1/Speak/", {}, "text"),
        ("POST", "/Conference/room1/Record/", {"file_format": "ogg"}, "file_format"),
        ("POST", "/Conference/room1/Member/1/Kick/", {"loud": "yes"}, "loud"),
    ]
    for method, path, body, field in cases:
        response = http.request(method, path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert field in response.json()["error"], (path, response.text)
    too_many = ",".join(str(n) for n in range(101))
    assert http.post(f"/Conference/room1/Member/{too_many}/Deaf/").status_code == 400
