"""Password guessing, replay, enumeration and tenant boundaries against `callplane serve`.

Each test probes from its own loopback address (127.0.0.x) so a ban one test
provokes does not touch the others or the harness's API calls (from 127.0.0.1).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from callplane.sip.auth import Challenge
from callplane.sip.message import Response
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, WebhookServer
from tests.security.peer import SipPeer, peer, with_nc

PASSWORD = "right-password-1"
HANGUP = "<Response><Hangup/></Response>"


def endpoint(callplane: CallplaneServer, name: str) -> str:
    username = f"{name}{secrets.token_hex(3)}"
    body = {"username": username, "password": PASSWORD, "alias": name}
    callplane.api("POST", "Endpoint/", json=body)
    return username


def refused(response: Response | None) -> bool:
    """A banned source gets 403, or nothing once the transport drops banned sources."""
    return response is None or response.status == 403


def signed_register(sip: SipPeer, user: str, password: str) -> tuple[str, Response | None]:
    """Challenge, then REGISTER with credentials; (the Authorization value, response)."""
    challenged = sip.send(sip.build("REGISTER", user, from_user=user))
    assert challenged is not None and challenged.status == 401, challenged
    request = sip.build("REGISTER", user, from_user=user)
    authorization = sip.credentials(challenged, request, user, password)
    headers = (("Authorization", authorization),)
    return authorization, sip.send(sip.build("REGISTER", user, from_user=user, headers=headers))


def send_authorized(sip: SipPeer, user: str, authorization: str) -> Response | None:
    """A new REGISTER (new CSeq and Via branch) carrying ``authorization`` as it is."""
    headers = (("Authorization", authorization),)
    return sip.send(sip.build("REGISTER", user, from_user=user, headers=headers))


def stale(response: Response | None) -> bool:
    if response is None or response.status != 401:
        return False
    return Challenge.parse(response.headers.get("WWW-Authenticate") or "").stale


def test_wrong_passwords_ban_the_source_even_for_the_right_password(
    callplane: CallplaneServer,
) -> None:
    user = endpoint(callplane, "guessed")
    with peer("127.0.0.2", callplane.sip_port) as guesser:
        for attempt in range(10):  # the default --auth-failures
            response = guesser.register(user, f"guess-{attempt}")
            assert response is not None and response.status == 403, (attempt, response)
        assert refused(guesser.register(user, PASSWORD))
    with peer("127.0.0.3", callplane.sip_port) as phone:
        response = phone.register(user, PASSWORD)
        assert response is not None and response.status == 200, response
    logs = callplane.logs()
    assert "banned 127.0.0.2 for 300 s: 10 failed authentications in 60 s" in logs
    assert f"authentication failed from 127.0.0.2 as '{user}': REGISTER: wrong digest" in logs
    assert "guess-" not in logs and "response=" not in logs
    assert "127.0.0.3" not in logs


def test_an_expired_nonce_with_the_right_password_gets_stale_true(
    callplane: CallplaneServer,
) -> None:
    user = endpoint(callplane, "stale")
    with peer("127.0.0.4", callplane.sip_port) as phone:
        authorization, response = signed_register(phone, user, PASSWORD)
        assert response is not None and response.status == 200, response
        count, deadline = 1, time.monotonic() + 20  # the server runs with --nonce-ttl 3
        while response is not None and response.status == 200:
            assert time.monotonic() < deadline, "the nonce never expired"
            count += 1  # a fresh nonce count each time: only the expiry can refuse it
            response = send_authorized(phone, user, with_nc(authorization, count, PASSWORD))
        assert stale(response), response
        assert phone.register(user, PASSWORD).status == 200  # type: ignore[union-attr]


def test_a_replayed_nonce_count_is_refused_and_a_higher_one_accepted(
    callplane: CallplaneServer,
) -> None:
    user = endpoint(callplane, "replay")
    with peer("127.0.0.5", callplane.sip_port) as phone:
        authorization, response = signed_register(phone, user, PASSWORD)
        assert response is not None and response.status == 200, response
        assert stale(send_authorized(phone, user, authorization))  # the same nc=1 again
        second = with_nc(authorization, 2, PASSWORD)
        assert send_authorized(phone, user, second).status == 200  # type: ignore[union-attr]
        assert stale(send_authorized(phone, user, second))
    assert "authentication failed from 127.0.0.5" not in callplane.logs()  # not a guess


def test_wrong_rest_credentials_ban_the_client(callplane: CallplaneServer) -> None:
    base = callplane.api_base
    transport = httpx.HTTPTransport(local_address="127.0.0.6")
    with httpx.Client(transport=transport, timeout=10) as client:
        for attempt in range(10):
            wrong = client.get(base, auth=(AUTH_ID, f"wrong-token-{attempt}"))
            assert wrong.status_code == 401, wrong.text
        banned = client.get(base, auth=(AUTH_ID, AUTH_TOKEN))
        assert banned.status_code == 403 and "too many failed" in banned.json()["error"]
    assert callplane.api("GET", "")["auth_id"] == AUTH_ID  # from 127.0.0.1: not banned
    logs = callplane.logs()
    expected = f"authentication failed from 127.0.0.6 as '{AUTH_ID}': REST API: wrong auth token"
    assert expected in logs and "banned 127.0.0.6" in logs
    assert "wrong-token-" not in logs


def summary(response: Response | None) -> tuple[int, str, list[str], tuple[str, ...]]:
    """What a response tells a prober, without the per-request values (tags, nonces)."""
    assert response is not None
    names = sorted(name.lower() for name, _ in response.headers)
    challenges = tuple(
        f"{c.realm} {c.algorithm} {c.qop} {c.stale}"
        for c in map(Challenge.parse, response.headers.get_all("WWW-Authenticate"))
    )
    return response.status, response.reason, names, challenges


def test_unknown_users_and_wrong_passwords_look_the_same(callplane: CallplaneServer) -> None:
    known = endpoint(callplane, "known")
    unknown = f"nobody{secrets.token_hex(3)}"
    with peer("127.0.0.8", callplane.sip_port) as phone:
        assert phone.register(known, PASSWORD).status == 200  # type: ignore[union-attr]
    with peer("127.0.0.7", callplane.sip_port) as prober:
        first = [prober.send(prober.build("REGISTER", u, from_user=u)) for u in (known, unknown)]
        assert summary(first[0]) == summary(first[1])
        assert summary(prober.register(known, "wrong")) == summary(
            prober.register(unknown, "wrong")
        )
        # svwar's INVITE scan (From = To = the name), and a call out to a number
        assert summary(prober.invite(known, known)) == summary(prober.invite(unknown, unknown))
        assert summary(prober.invite("19995550123", known)) == summary(
            prober.invite("19995550123", unknown)
        )


def subaccount(callplane: CallplaneServer, name: str) -> Callable[..., dict[str, Any]]:
    """A new enabled sub-account whose URLs may reach the loopback webhook server
    (``private_networks``); the function calls the API with its credentials."""
    body = {"name": name, "enabled": True, "private_networks": "allow"}
    sub = callplane.api("POST", "Subaccount/", json=body)
    base = f"http://127.0.0.1:{callplane.http_port}/v1/Account/{sub['auth_id']}/"
    auth = (sub["auth_id"], sub["auth_token"])

    def api(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.request(method, base + path, auth=auth, json=body, timeout=10)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    return api


def invite_with_password(
    sip: SipPeer, to: str, from_user: str, user: str, password: str
) -> Response | None:
    """An INVITE answering its 407 with ``user``'s digest; the final response."""
    challenged = sip.invite(to, from_user)
    assert challenged is not None and challenged.status == 407, challenged
    retry = sip.build("INVITE", to, from_user=from_user)
    proxy = sip.credentials(challenged, retry, user, password)
    headers = (("Proxy-Authorization", proxy),)
    return sip.send(sip.build("INVITE", to, from_user=from_user, headers=headers))


def test_wrong_invite_passwords_of_endpoints_and_trunks_ban_too(
    callplane: CallplaneServer, web: WebhookServer
) -> None:
    user = endpoint(callplane, "caller")
    with peer("127.0.0.11", callplane.sip_port) as phone:
        assert phone.register(user, PASSWORD).status == 200  # type: ignore[union-attr]
        for attempt in range(10):
            response = invite_with_password(phone, "19995550100", user, user, f"guess-{attempt}")
            assert response is not None and response.status == 403, (attempt, response)
        assert refused(phone.invite("19995550100", user))
    as_c = subaccount(callplane, "tenant-c")
    trunk = {"name": "c-in", "host": "127.0.0.99", "inbound_username": "carrier-c"}
    as_c("POST", "Trunk/", {**trunk, "inbound_password": "carrier-pass-c"})
    app = as_c("POST", "Application/", {"app_name": "c", "answer_url": web.set("/t/c", HANGUP)})
    as_c("POST", "Number/", {"numbers": "15554440003", "app_id": app["app_id"]})
    with peer("127.0.0.12", callplane.sip_port) as carrier:
        for attempt in range(10):
            response = invite_with_password(
                carrier, "15554440003", "15550001111", "carrier-c", f"guess-{attempt}"
            )
            assert response is not None and response.status == 403, (attempt, response)
        assert refused(carrier.invite("15554440003", "15550001111"))
    logs = callplane.logs()  # failure lines are rate-limited; each ban line names its reason
    banned = "banned 127.0.0.11 for 300 s: 10 failed authentications in 60 s"
    assert f"{banned} (INVITE: endpoint {user}: wrong digest" in logs
    assert "banned 127.0.0.12 for 300 s: 10 failed authentications" in logs
    assert "(INVITE: trunk digest refused: wrong digest response)" in logs
    assert web.seen("/t/c") == []


def test_an_endpoint_named_like_a_number_cannot_take_another_accounts_calls(
    callplane: CallplaneServer, web: WebhookServer
) -> None:
    """Sub-account A names an endpoint after a caller id; account B's callers with that
    caller id still reach B, while A's endpoint's own calls are still challenged."""
    as_a = subaccount(callplane, "tenant-a")
    a_endpoint_app = as_a(
        "POST", "Application/", {"app_name": "a-ep", "answer_url": web.set("/t/a-ep", HANGUP)}
    )["app_id"]
    a_number_app = as_a(
        "POST", "Application/", {"app_name": "a-num", "answer_url": web.set("/t/a-num", HANGUP)}
    )["app_id"]
    as_a("POST", "Number/", {"numbers": "15554440001", "app_id": a_number_app})
    caller = "14085559876"
    body = {"username": caller, "password": PASSWORD, "alias": "a", "app_id": a_endpoint_app}
    as_a("POST", "Endpoint/", body)
    callplane.number("15554440002", callplane.application(web.set("/t/b", HANGUP)))

    with (
        peer("127.0.0.9", callplane.sip_port) as phone,
        peer("127.0.0.10", callplane.sip_port) as carrier,
    ):
        assert phone.register(caller, PASSWORD).status == 200  # type: ignore[union-attr]
        # B's number, from a carrier and from A's phone itself: B's application answers
        assert carrier.invite("15554440002", caller).status != 407  # type: ignore[union-attr]
        assert phone.invite("15554440002", caller).status != 407  # type: ignore[union-attr]
        assert [r.params["From"] for r in web.wait_for("/t/b", 2)] == [caller, caller]
        # A's own number from the phone: challenged, then A's endpoint application runs
        invite_with_password(phone, "15554440001", caller, caller, PASSWORD)
        web.wait_for("/t/a-ep")
        # A's number from the carrier (not where the endpoint registered): the number's app
        assert carrier.invite("15554440001", caller).status != 407  # type: ignore[union-attr]
        web.wait_for("/t/a-num")
