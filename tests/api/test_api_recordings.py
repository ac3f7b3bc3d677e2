"""Recordings through the plivo SDK, and their audio behind the API's Basic auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import plivo
import pytest
from plivo import exceptions

from callplane.store.models import CallRecord, Recording
from tests.api.conftest import LiveServer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt "


def _add(
    live: LiveServer,
    folder: Path,
    recording_id: str,
    minute: int = 0,
    *,
    recording_format: str = "wav",
    call_uuid: str = "call-1",
    auth_id: str | None = None,
) -> Recording:
    path = folder / f"{recording_id}.{recording_format}"
    path.write_bytes(AUDIO)
    recording = Recording(
        recording_id=recording_id,
        auth_id=auth_id or live.account.auth_id,
        call_uuid=call_uuid,
        recording_format=recording_format,
        path=str(path),
        recording_duration_ms=2400,
        recording_start_ms=100,
        recording_end_ms=2500,
        add_time=T0 + timedelta(minutes=minute),
    )
    return live.run(live.store.add_recording(recording))


def test_get_in_plivo_shape(client: plivo.RestClient, live: LiveServer, tmp_path: Path) -> None:
    live.run(
        live.store.write_records([CallRecord("call-1", live.account.auth_id, "4930111", "4930222")])
    )
    _add(live, tmp_path, "rec-1")
    rec = client.recordings.get("rec-1")
    auth_id = live.account.auth_id
    assert rec.recording_id == "rec-1" and rec.call_uuid == "call-1"
    assert rec.recording_format == "wav" and rec.recording_type == "call"
    assert float(rec.recording_duration_ms) == 2400
    assert (float(rec.recording_start_ms), float(rec.recording_end_ms)) == (100, 2500)
    assert rec.add_time == "2025-03-01 12:00:00+00:00"
    assert rec.resource_uri == f"/v1/Account/{auth_id}/Recording/rec-1/"
    assert (
        rec.recording_url
        == f"http://127.0.0.1:{live.port}/v1/Account/{auth_id}/Recording/rec-1.wav"
    )
    assert (rec.from_number, rec.to_number) == ("4930111", "4930222")
    assert rec.conference_name is None


def test_list_newest_first_with_meta_and_filters(
    client: plivo.RestClient, live: LiveServer, tmp_path: Path
) -> None:
    for i in range(3):
        _add(live, tmp_path, f"rec-{i}", minute=i, call_uuid=f"call-{i % 2}")
    listed = client.recordings.list(limit=2)
    assert [r.recording_id for r in listed] == ["rec-2", "rec-1"]
    assert listed.meta["total_count"] == 3 and listed.meta["next"] is not None
    by_call = client.recordings.list(call_uuid="call-0")
    assert [r.recording_id for r in by_call] == ["rec-2", "rec-0"]
    since = client.recordings.list(add_time__gte="2025-03-01 12:01")
    assert [r.recording_id for r in since] == ["rec-2", "rec-1"]
    with httpx.Client(auth=(live.account.auth_id, live.account.auth_token)) as http:
        url = f"{live.base_uri}/{live.account.auth_id}/Recording/"
        assert http.get(url, params={"add_time": "2025-03-02"}).json()["objects"] == []
        day = http.get(url, params={"add_time": "2025-03-01"}).json()["objects"]
        assert len(day) == 3
    before = client.recordings.list(add_time__lt="2025-03-01 12:01")
    assert [r.recording_id for r in before] == ["rec-0"]
    with pytest.raises(exceptions.ValidationError, match="add_time__gt"):
        client.recordings.list(add_time__gt="yesterday")


def test_delete_removes_the_file(
    client: plivo.RestClient, live: LiveServer, tmp_path: Path
) -> None:
    rec = _add(live, tmp_path, "rec-1")
    client.recordings.delete("rec-1")
    assert not Path(rec.path).exists()
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.recordings.get("rec-1")
    with pytest.raises(exceptions.ResourceNotFoundError):
        client.recordings.delete("rec-1")


def test_audio_is_served_with_auth_only(
    client: plivo.RestClient, live: LiveServer, tmp_path: Path
) -> None:
    _add(live, tmp_path, "rec-1")
    _add(live, tmp_path, "rec-2", recording_format="mp3")
    url = client.recordings.get("rec-1").recording_url
    creds = (live.account.auth_id, live.account.auth_token)
    got = httpx.get(url, auth=creds)
    assert got.status_code == 200 and got.content == AUDIO
    assert got.headers["content-type"] == "audio/wav"
    mp3 = httpx.get(client.recordings.get("rec-2").recording_url, auth=creds)
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(live.account.auth_id, "wrong")).status_code == 401
    assert httpx.get(url.replace(".wav", ".mp3"), auth=creds).status_code == 404


def test_other_accounts_get_404(client: plivo.RestClient, live: LiveServer, tmp_path: Path) -> None:
    _add(live, tmp_path, "rec-1")
    sub = client.subaccounts.create(name="other", enabled=True)
    base = f"{live.base_uri}/{sub.auth_id}/Recording"
    creds = (sub.auth_id, sub.auth_token)
    assert httpx.get(f"{base}/rec-1.wav", auth=creds).status_code == 404
    assert httpx.get(f"{base}/rec-1/", auth=creds).status_code == 404
    assert httpx.delete(f"{base}/rec-1/", auth=creds).status_code == 404
    assert httpx.get(f"{base}/", auth=creds).json()["meta"]["total_count"] == 0


def test_main_account_reads_a_subaccounts_recording(
    client: plivo.RestClient, live: LiveServer, tmp_path: Path
) -> None:
    sub = client.subaccounts.create(name="child", enabled=True)
    _add(live, tmp_path, "rec-sub", auth_id=sub.auth_id)
    assert client.recordings.get("rec-sub").sub_account == sub.auth_id
    assert [r.recording_id for r in client.recordings.list(subaccount=sub.auth_id)] == ["rec-sub"]
    assert client.recordings.list().meta["total_count"] == 0


def test_bad_token_on_list_is_an_authentication_error(live: LiveServer) -> None:
    with (
        plivo.RestClient(live.account.auth_id, "wrong-token") as sdk,
        pytest.raises(exceptions.AuthenticationError),
    ):
        sdk.recordings.list()
