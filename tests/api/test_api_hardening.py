"""Inputs SQLite takes but PostgreSQL refuses answer 400 on both, never 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import LiveServer

CASES = [
    ("GET", "/Number/1%00/", None, None),
    ("GET", "/Call/", {"hangup_source": "a\x00"}, None),
    ("POST", "/Application/", None, {"app_name": "x" * 300, "answer_url": "http://a/"}),
    ("POST", "/Application/", None, {"app_name": "a\x00", "answer_url": "http://a/"}),
    ("POST", "/", None, {"rate_per_minute": "1e40"}),
    ("POST", "/", None, {"inbound_cps": "nan"}),
    ("POST", "/", None, {"city": "c" * 201}),
    ("GET", "/Call/", {"bill_duration": "99999999999999999999"}, None),
    ("GET", "/Call/", {"end_time": "9999-12-31"}, None),
    ("GET", "/Usage/", {"to": "9999-12-31"}, None),
    ("GET", "/Application/", {"offset": "99999999999999999999"}, None),
    ("POST", "/Endpoint/", None, {"username": "u", "password": "p" * 9, "alias": "a" * 201}),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), CASES)
def test_bad_input_is_400(
    live: LiveServer,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, str] | None,
) -> None:
    account = live.account
    url = f"{live.base_uri}/{account.auth_id}{path}"
    auth = (account.auth_id, account.auth_token)
    response = httpx.request(method, url, params=params, json=body, auth=auth)
    assert response.status_code == 400, response.text
