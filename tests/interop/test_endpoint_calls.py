"""Registered SIP endpoints call and are called: PJSUA2 accounts REGISTER with digest,
place calls that run their endpoint's application, and are dialled by ``<User>``
and ``<Client>``; both sides of a bridge hear each other's tone."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pjsua2 as pj
import pytest

from tests.interop.harness import CallplaneServer, WebhookServer
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.pjua_register import RegAccount, wait_for_state
from tests.interop.tones import wav_peak_hz, write_tone

PASSWORD = "endpoint-secret-1"


class RegisteredPhone(RegAccount):
    """A PJSUA2 account that registers with digest and answers every call it gets,
    playing ``play`` and recording what it hears to ``record_to``."""

    def __init__(self, ua: UserAgent, record_to: Path | None, play: Path | None) -> None:
        super().__init__()
        self.ua = ua
        self.record_to = record_to
        self.play = play
        self.calls: list[UaCall] = []

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = UaCall(self.ua, self.record_to, self.play, account=self, call_id=prm.callId)
        self.calls.append(call)
        self.ua.calls.append(call)
        answer = pj.CallOpParam()
        answer.statusCode = 200
        call.answer(answer)

    def call(self, uri: str, *, record_to: Path | None = None, play: Path | None = None) -> UaCall:
        """Place a call from this (registered) account."""
        call = UaCall(self.ua, record_to, play, account=self)
        call.makeCall(uri, pj.CallOpParam(True))
        self.ua.calls.append(call)
        return call


def endpoint(callplane: CallplaneServer, name: str, **fields: Any) -> str:
    """An endpoint created through the REST API; its (unique) username."""
    username = f"{name}{secrets.token_hex(3)}"
    body = {"username": username, "password": PASSWORD, "alias": name, **fields}
    callplane.api("POST", "Endpoint/", json=body)
    return username


def registered(
    ua: UserAgent,
    callplane: CallplaneServer,
    username: str,
    *,
    password: str = PASSWORD,
    record_to: Path | None = None,
    play: Path | None = None,
) -> RegisteredPhone:
    config = pj.AccountConfig()
    config.idUri = f"sip:{username}@127.0.0.1"
    config.regConfig.registrarUri = f"sip:127.0.0.1:{callplane.sip_port}"
    config.regConfig.retryIntervalSec = 0
    config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
    media = config.mediaConfig.transportConfig
    media.boundAddress = media.publicAddress = "127.0.0.1"
    account = RegisteredPhone(ua, record_to, play)
    account.create(config)
    wait_for_state(ua, account, 1)
    return account


@pytest.fixture
def phones() -> Iterator[list[RegisteredPhone]]:
    made: list[RegisteredPhone] = []
    yield made
    for account in made:
        account.shutdown()


def test_endpoint_call_runs_its_app_which_dials_another_endpoint_with_audio(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    tmp_path: Path,
    phones: list[RegisteredPhone],
) -> None:
    alice = endpoint(callplane, "alice")
    action = web.url("/e2e/dial-status")
    document = (
        f'<Response><Dial timeLimit="3" action="{action}" redirect="false">'
        f"<User>sip:{alice}@127.0.0.1</User></Dial></Response>"
    )
    app_id = callplane.application(
        web.set("/e2e/answer", document), hangup_url=web.url("/e2e/hangup")
    )
    bob = endpoint(callplane, "bob", app_id=app_id)
    alice_heard, bob_heard = tmp_path / "alice-heard.wav", tmp_path / "bob-heard.wav"
    alice_phone = registered(
        phone,
        callplane,
        alice,
        record_to=alice_heard,
        play=write_tone(tmp_path / "alice.wav", 1000, 6),
    )
    bob_phone = registered(phone, callplane, bob)
    phones += [alice_phone, bob_phone]
    assert alice_phone.getInfo().regIsActive and bob_phone.getInfo().regIsActive

    call = bob_phone.call(
        f"sip:{alice}@127.0.0.1:{callplane.sip_port}",
        record_to=bob_heard,
        play=write_tone(tmp_path / "bob.wav", 440, 6),
    )
    log = phone.wait(call, timeout=20)
    assert log.disconnected and alice_phone.calls, log.states
    phone.finish(alice_phone.calls + bob_phone.calls)

    assert f"endpoint {bob}: no credentials" in callplane.logs()  # challenged with 407 first
    answer = web.wait_for("/e2e/answer")[0].params
    assert answer["From"] == f"sip:{bob}@127.0.0.1"
    assert answer["To"] == alice
    assert answer["Direction"] == "inbound"
    status = web.wait_for("/e2e/dial-status")[0].params
    assert status["DialStatus"] == "completed" and status["DialBLegUUID"]
    assert abs(wav_peak_hz(bob_heard) - 1000) < 20  # bob heard alice
    assert abs(wav_peak_hz(alice_heard) - 440) < 20  # alice heard bob

    web.wait_for("/e2e/hangup")
    record = callplane.api("GET", f"Call/{answer['CallUUID']}/")
    assert (record["from_number"], record["to_number"]) == (f"sip:{bob}@127.0.0.1", alice)
    assert record["call_direction"] == "inbound"


def test_number_caller_dials_a_registered_endpoint_by_user(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    phones: list[RegisteredPhone],
) -> None:
    carol = endpoint(callplane, "carol")
    phones.append(registered(phone, callplane, carol))
    action = web.url("/user/dial-status")
    document = (
        f'<Response><Dial timeLimit="1" action="{action}" redirect="false">'
        f"<User>sip:{carol}@127.0.0.1</User></Dial></Response>"
    )
    callplane.number("15553330001", callplane.application(web.set("/user/answer", document)))
    log = phone.wait(phone.call("15553330001", callplane.sip_port), timeout=20)
    assert log.disconnected and phones[0].calls
    status = web.wait_for("/user/dial-status")[0].params
    assert status["DialStatus"] == "completed" and status["DialBLegUUID"]


def test_twiml_client_dials_a_registered_endpoint(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    phones: list[RegisteredPhone],
) -> None:
    dave = endpoint(callplane, "dave")
    phones.append(registered(phone, callplane, dave))
    action = web.set("/client/dial-status", "<Response><Hangup/></Response>")
    document = (
        f'<Response><Dial timeLimit="1" action="{action}"><Client>{dave}</Client></Dial></Response>'
    )
    callplane.number("15553330002", callplane.application(web.set("/client/answer", document)))
    log = phone.wait(phone.call("15553330002", callplane.sip_port), timeout=20)
    assert log.disconnected and phones[0].calls
    status = web.wait_for("/client/dial-status")[0].params
    assert status["DialCallStatus"] == "completed"


def test_unregistered_endpoint_dialled_fails_the_dial(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer
) -> None:
    erin = endpoint(callplane, "erin")  # never registers
    plivo_action, twiml_action = web.url("/absent/user"), web.url("/absent/client")
    web.set("/absent/client", "<Response><Hangup/></Response>")
    user_document = (
        f'<Response><Dial action="{plivo_action}" redirect="false">'
        f"<User>sip:{erin}@127.0.0.1:{callplane.sip_port}</User></Dial></Response>"
    )
    client_document = (
        f'<Response><Dial action="{twiml_action}"><Client>{erin}</Client></Dial></Response>'
    )
    callplane.number("15553330003", callplane.application(web.set("/absent/a", user_document)))
    callplane.number("15553330004", callplane.application(web.set("/absent/b", client_document)))
    phone.wait(phone.call("15553330003", callplane.sip_port), timeout=20)
    phone.wait(phone.call("15553330004", callplane.sip_port), timeout=20)
    assert web.wait_for("/absent/user")[0].params["DialStatus"] == "failed"
    client = web.wait_for("/absent/client")[0].params
    assert client["DialCallStatus"] == "failed"
    assert client["DialHangupCause"] == "NO_ROUTE_DESTINATION"


def test_endpoint_with_a_wrong_password_gets_403(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    phones: list[RegisteredPhone],
) -> None:
    """frank's phone is registered from 127.0.0.1; a second account of the same UA (same
    address) calls as frank with a wrong password: challenged, then refused."""
    app_id = callplane.application(web.set("/forbidden/answer", "<Response><Hangup/></Response>"))
    frank = endpoint(callplane, "frank", app_id=app_id)
    phones.append(registered(phone, callplane, frank))
    config = pj.AccountConfig()
    config.idUri = f"sip:{frank}@127.0.0.1"
    config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", frank, 0, "not-it"))
    intruder = RegisteredPhone(phone, None, None)  # no registrarUri: never registers
    intruder.create(config)
    phones.append(intruder)
    log = phone.wait(intruder.call(f"sip:15553339999@127.0.0.1:{callplane.sip_port}"))
    assert log.disconnected and log.final_status == 403, log.states
    assert f"as '{frank}': INVITE: endpoint {frank}: wrong digest response" in callplane.logs()
    assert web.seen("/forbidden/answer") == []


def test_endpoint_that_cannot_register_is_routed_like_any_caller(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    phones: list[RegisteredPhone],
) -> None:
    """A wrong password fails the REGISTER, so the phone's calls are not frank's calls
    (endpoint calls come from where the endpoint registered): an unknown number is 404."""
    app_id = callplane.application(
        web.set("/unregistered/answer", "<Response><Hangup/></Response>")
    )
    frank = endpoint(callplane, "frank", app_id=app_id)
    phones.append(registered(phone, callplane, frank, password="not-the-password"))
    log = phone.wait(phones[0].call(f"sip:15553339998@127.0.0.1:{callplane.sip_port}"))
    assert log.disconnected and log.final_status == 404, log.states
    assert web.seen("/unregistered/answer") == []


def test_endpoint_without_application_is_refused_480(
    phone: UserAgent, callplane: CallplaneServer, phones: list[RegisteredPhone]
) -> None:
    grace = endpoint(callplane, "grace")
    phones.append(registered(phone, callplane, grace))
    log = phone.wait(phones[0].call(f"sip:15553330005@127.0.0.1:{callplane.sip_port}"))
    assert log.disconnected and log.final_status == 480, log.states
    record = ended_call_from(callplane, f"sip:{grace}@127.0.0.1")
    assert record["sip_response_code"] == 480 and "has no application" in record["error"]


def ended_call_from(callplane: CallplaneServer, caller: str) -> dict[str, Any]:
    """The one call record with that caller, once written (records are written after the end)."""
    deadline = time.monotonic() + 10
    while True:
        listed = callplane.api("GET", "Call/", params={"limit": 20})["objects"]
        found = [r for r in listed if r["from_number"] == caller]
        if found or time.monotonic() > deadline:
            [record] = found
            return record
        time.sleep(0.1)


def test_endpoint_calling_our_number_runs_the_default_endpoint_app(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    phones: list[RegisteredPhone],
) -> None:
    number_app = callplane.application(web.set("/own/number", "<Response><Hangup/></Response>"))
    callplane.number("15553330006", number_app)
    callplane.application(
        web.set("/own/default", "<Response><Hangup/></Response>"), default_endpoint_app=True
    )
    heidi = endpoint(callplane, "heidi")  # no application of its own
    phones.append(registered(phone, callplane, heidi))
    log = phone.wait(phones[0].call(f"sip:15553330006@127.0.0.1:{callplane.sip_port}"))
    assert log.disconnected, log.states
    answer = web.wait_for("/own/default")[0].params
    assert (answer["From"], answer["To"]) == (f"sip:{heidi}@127.0.0.1", "15553330006")
    assert web.seen("/own/number") == []
