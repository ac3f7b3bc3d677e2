"""``POST /Call/`` field checks: 400 naming the field, before any call is placed.
(Calls actually placed: ``tests/interop/test_outbound_calls.py``.)"""

from __future__ import annotations

from typing import Any

import httpx
import plivo
import pytest

from tests.api.conftest import LiveServer

GOOD = {"from": "14155550100", "to": "14155550111", "answer_url": "https://example.com/a"}


def post(live: LiveServer, body: dict[str, Any]) -> httpx.Response:
    account = live.account
    return httpx.post(
        f"{live.base_uri}/{account.auth_id}/Call/",
        json=body,
        auth=(account.auth_id, account.auth_token),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": ""}, "from"),
        ({"from": "alice"}, "from"),
        ({"to": ""}, "to"),
        ({"to": "14155550111<<14155550112"}, "to"),
        ({"to": "sip:"}, "to"),
        ({"to": "14155550100"}, "to"),  # the from number
        ({"answer_url": "example.com/a"}, "answer_url"),
        ({"answer_method": "PUT"}, "answer_method"),
        ({"hangup_url": "ftp://example.com/h"}, "hangup_url"),
        ({"ring_timeout": 0}, "ring_timeout"),
        ({"time_limit": "soon"}, "time_limit"),
        ({"hangup_on_ring": -5}, "hangup_on_ring"),
        ({"caller_name": 'say "hi"'}, "caller_name"),
        ({"send_digits": "12x"}, "send_digits"),
        ({"sip_headers": "bad header=1"}, "sip_headers"),
        ({"machine_detection": "true"}, "machine_detection"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_field_is_400_naming_it(live: LiveServer, change: dict[str, Any], field: str) -> None:
    response = post(live, {**GOOD, **change})
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


def test_a_good_request_without_a_sip_side_is_503(live: LiveServer) -> None:
    response = post(live, {**GOOD, "to": "14155550111<sip:bob@127.0.0.1"})
    assert response.status_code == 503


def test_the_sdk_surfaces_a_bad_field_as_its_validation_error(
    live: LiveServer, client: plivo.RestClient
) -> None:
    with pytest.raises(plivo.exceptions.ValidationError, match="ring_method"):
        client.calls.create(
            from_="14155550100",
            to_="14155550111",
            answer_url="https://example.com/a",
            ring_url="https://example.com/r",
            ring_method="PUT",
        )
