"""Transaction behaviour (RFC 3261 §17, RFC 6026) with a fake clock, all in memory."""

from __future__ import annotations

import pytest

from callplane.errors import SipError
from callplane.sip.endpoint import SipEndpoint
from callplane.sip.events import (
    AckReceived,
    BadMessage,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
)
from callplane.sip.headers import Headers
from callplane.sip.message import Request, Response, build_response, parse_message
from callplane.sip.transaction import ServerTransaction, State
from tests.sip.messages import invite, request

PEER = ("192.0.2.10", 5060)
T1 = 0.5


class Clock:
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.now = 0.0

    def advance_to(self, when: float) -> None:
        """Fire every timer due up to ``when``, in order, like the asyncio shell."""
        while (deadline := self.endpoint.next_timer()) is not None and deadline <= when:
            self.now = max(self.now, deadline)
            self.endpoint.handle_timers(self.now)
        self.now = when


def sent(endpoint: SipEndpoint) -> list[Request | Response]:
    return [parse_message(data) for data, _, _ in endpoint.outgoing()]


def statuses(endpoint: SipEndpoint) -> list[int]:
    return [m.status if isinstance(m, Response) else 0 for m in sent(endpoint)]


def new_invite(endpoint: SipEndpoint, data: bytes | None = None) -> ServerTransaction:
    endpoint.receive(data or invite(), PEER, "UDP", 0.0)
    (event,) = endpoint.events()
    assert isinstance(event, RequestReceived)
    return event.transaction


def ack_for(response: Response, branch: str = "z9hG4bK-inv-1") -> bytes:
    to = response.headers.get("To")
    return request("ACK", branch=branch).replace(
        b"To: <sip:+15551234567@192.0.2.20>", f"To: {to}".encode()
    )


@pytest.fixture
def endpoint() -> SipEndpoint:
    return SipEndpoint(t1=T1)


def test_invite_603_retransmitted_on_timer_g_until_ack(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    txn = new_invite(endpoint)
    endpoint.send_response(txn, endpoint.response(txn, 100), 0.0)
    decline = endpoint.response(txn, 603)
    endpoint.send_response(txn, decline, 0.0)
    assert statuses(endpoint) == [100, 603]
    retransmit_times = []
    for when in (0.5, 1.5, 3.5, 7.5):
        clock.advance_to(when)
        assert statuses(endpoint) == [603]
        retransmit_times.append(when)
    assert retransmit_times == [0.5, 1.5, 3.5, 7.5]  # T1, 2T1, 4T1, then capped at T2
    endpoint.receive(ack_for(decline), PEER, "UDP", 8.0)
    assert endpoint.events() == [] and txn.state is State.CONFIRMED
    clock.advance_to(12.0)
    assert statuses(endpoint) == []
    clock.advance_to(13.1)  # Timer I = T4
    assert txn.state is State.TERMINATED
    assert endpoint.transaction_count == 0


def test_timer_h_without_ack(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    txn = new_invite(endpoint)
    endpoint.send_response(txn, endpoint.response(txn, 486), 0.0)
    endpoint.outgoing()
    clock.advance_to(64 * T1 + 0.01)
    events = endpoint.events()
    assert [type(e) for e in events] == [TransactionTimeout]
    assert events[0].transaction is txn and events[0].response is None
    assert len(endpoint.outgoing()) == 10  # Timer G until Timer H
    assert txn.state is State.TERMINATED


def test_retransmitted_invite_gets_the_last_response(endpoint: SipEndpoint) -> None:
    txn = new_invite(endpoint)
    endpoint.receive(invite(), PEER, "UDP", 0.1)
    assert endpoint.events() == [] and statuses(endpoint) == []
    endpoint.send_response(txn, endpoint.response(txn, 180), 0.1)
    endpoint.outgoing()
    endpoint.receive(invite(), PEER, "UDP", 0.2)
    assert statuses(endpoint) == [180]
    endpoint.send_response(txn, endpoint.response(txn, 404), 0.3)
    endpoint.outgoing()
    endpoint.receive(invite(), PEER, "UDP", 0.4)
    assert statuses(endpoint) == [404]
    assert endpoint.events() == []


def test_trying_sent_after_200ms_when_tu_is_silent(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    new_invite(endpoint)
    clock.advance_to(0.19)
    assert statuses(endpoint) == []
    clock.advance_to(0.21)
    assert statuses(endpoint) == [100]


def test_cancel_gets_200_and_tu_sends_487(endpoint: SipEndpoint) -> None:
    txn = new_invite(endpoint)
    endpoint.receive(request("CANCEL", branch="z9hG4bK-inv-1"), PEER, "UDP", 1.0)
    (event,) = endpoint.events()
    assert isinstance(event, CancelReceived) and event.transaction is txn
    (ok,) = sent(endpoint)
    assert isinstance(ok, Response) and ok.status == 200 and ok.cseq.method == "CANCEL"
    assert ok.to_addr.tag == txn.local_tag
    terminated = endpoint.response(txn, 487)
    endpoint.send_response(txn, terminated, 1.0)
    assert statuses(endpoint) == [487]
    endpoint.receive(ack_for(terminated), PEER, "UDP", 1.1)
    assert endpoint.events() == [] and txn.state is State.CONFIRMED
    endpoint.receive(request("CANCEL", branch="z9hG4bK-inv-1"), PEER, "UDP", 1.2)
    assert statuses(endpoint) == [200] and endpoint.events() == []


def test_cancel_without_transaction_gets_481(endpoint: SipEndpoint) -> None:
    endpoint.receive(request("CANCEL", branch="z9hG4bK-none"), PEER, "UDP", 0.0)
    assert statuses(endpoint) == [481]
    assert endpoint.events() == []


def test_cancel_after_final_response_has_no_effect(endpoint: SipEndpoint) -> None:
    txn = new_invite(endpoint)
    endpoint.send_response(txn, endpoint.response(txn, 486), 0.0)
    endpoint.outgoing()
    endpoint.receive(request("CANCEL", branch="z9hG4bK-inv-1"), PEER, "UDP", 0.1)
    assert statuses(endpoint) == [200]
    assert endpoint.events() == []


def test_2xx_retransmitted_until_ack(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    txn = new_invite(endpoint)
    ok = endpoint.response(txn, 200, headers=[("Contact", "<sip:callplane@192.0.2.20>")])
    endpoint.send_response(txn, ok, 0.0)
    assert statuses(endpoint) == [200]
    assert txn.state is State.ACCEPTED
    clock.advance_to(1.6)
    assert statuses(endpoint) == [200, 200]  # at T1 and 3*T1
    endpoint.receive(ack_for(ok, branch="z9hG4bK-ack-new"), PEER, "UDP", 1.7)
    (event,) = endpoint.events()
    assert isinstance(event, AckReceived) and event.transaction is txn
    endpoint.receive(ack_for(ok, branch="z9hG4bK-ack-new"), PEER, "UDP", 1.8)
    assert endpoint.events() == []
    clock.advance_to(10.0)
    assert statuses(endpoint) == []
    endpoint.receive(invite(), PEER, "UDP", 10.0)
    assert statuses(endpoint) == [] and endpoint.events() == []
    clock.advance_to(64 * T1 + 0.1)  # Timer L
    assert endpoint.events() == [] and txn.state is State.TERMINATED


def test_2xx_without_ack_times_out(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    txn = new_invite(endpoint)
    endpoint.send_response(txn, endpoint.response(txn, 200), 0.0)
    clock.advance_to(64 * T1 + 0.1)
    assert [type(e) for e in endpoint.events()] == [TransactionTimeout]
    assert statuses(endpoint).count(200) >= 9


def test_final_response_twice_is_an_error(endpoint: SipEndpoint) -> None:
    txn = new_invite(endpoint)
    endpoint.send_response(txn, endpoint.response(txn, 486), 0.0)
    with pytest.raises(SipError):
        endpoint.send_response(txn, endpoint.response(txn, 200), 0.0)


def test_non_invite_timer_j(endpoint: SipEndpoint) -> None:
    clock = Clock(endpoint)
    endpoint.receive(request("BYE", to_tag="t"), PEER, "UDP", 0.0)
    (event,) = endpoint.events()
    assert isinstance(event, RequestReceived)
    endpoint.receive(request("BYE", to_tag="t"), PEER, "UDP", 0.1)
    assert statuses(endpoint) == [] and endpoint.events() == []
    endpoint.send_response(event.transaction, endpoint.response(event.transaction, 200), 0.2)
    endpoint.receive(request("BYE", to_tag="t"), PEER, "UDP", 0.3)
    assert statuses(endpoint) == [200, 200]
    clock.advance_to(0.2 + 64 * T1 + 0.01)
    assert event.transaction.state is State.TERMINATED
    endpoint.receive(request("BYE", to_tag="t"), PEER, "UDP", 40.0)
    assert [type(e) for e in endpoint.events()] == [RequestReceived]


def test_non_invite_over_tcp_terminates_at_once(endpoint: SipEndpoint) -> None:
    endpoint.receive(request("BYE", to_tag="t"), PEER, "TCP", 0.0)
    (event,) = endpoint.events()
    endpoint.send_response(event.transaction, endpoint.response(event.transaction, 200), 0.0)
    assert event.transaction.state is State.TERMINATED
    assert endpoint.next_timer() is None


def test_invite_over_tcp_has_no_timer_g(endpoint: SipEndpoint) -> None:
    endpoint.receive(invite(transport="TCP"), PEER, "TCP", 0.0)
    (event,) = endpoint.events()
    endpoint.send_response(event.transaction, endpoint.response(event.transaction, 603), 0.0)
    assert set(event.transaction.timers) == {"H"}


def _bye() -> Request:
    headers = Headers(
        [
            ("From", "<sip:callplane@192.0.2.20>;tag=ours"),
            ("To", "<sip:alice@example.com>;tag=a1"),
            ("Call-ID", "call-1@192.0.2.10"),
            ("CSeq", "2 BYE"),
        ]
    )
    return Request("BYE", "sip:alice@192.0.2.10:5060", headers)


def test_bye_client_transaction_timer_e_then_synthetic_408(endpoint: SipEndpoint) -> None:
    endpoint.local_sent_by = ("192.0.2.20", 5060)
    clock = Clock(endpoint)
    txn = endpoint.send_request(_bye(), PEER, "UDP", 0.0)
    (first,) = sent(endpoint)
    assert isinstance(first, Request) and first.top_via.branch.startswith("z9hG4bK")
    sends = []
    for when in (0.5, 1.5, 3.5, 7.5, 11.5):
        clock.advance_to(when)
        sends.append(len(endpoint.outgoing()))
    assert sends == [1, 1, 1, 1, 1]
    clock.advance_to(64 * T1 + 0.01)
    (event,) = endpoint.events()
    assert isinstance(event, TransactionTimeout) and event.transaction is txn
    assert event.response is not None and event.response.status == 408
    assert endpoint.transaction_count == 0


def test_transport_error_ends_client_transactions_to_that_peer_with_503(
    endpoint: SipEndpoint,
) -> None:
    endpoint.local_sent_by = ("192.0.2.20", 5060)
    txn = endpoint.send_request(_bye(), PEER, "UDP", 0.0)
    other = endpoint.send_request(_bye(), ("192.0.2.99", 5060), "UDP", 0.0)
    endpoint.outgoing()
    endpoint.transport_error(PEER, "UDP", 0.1)
    (event,) = endpoint.events()
    assert isinstance(event, TransactionTimeout) and event.transaction is txn
    assert event.response is not None and event.response.status == 503
    assert txn.state is State.TERMINATED and other.state is State.TRYING
    assert endpoint.client_transaction(other.request.top_via.branch or "", "BYE") is other
    assert endpoint.transaction_count == 1


def test_bye_client_transaction_response(endpoint: SipEndpoint) -> None:
    endpoint.local_sent_by = ("192.0.2.20", 5060)
    clock = Clock(endpoint)
    txn = endpoint.send_request(_bye(), PEER, "UDP", 0.0)
    (sent_bye,) = sent(endpoint)
    assert isinstance(sent_bye, Request)
    ok = bytes(build_response(sent_bye, 200))
    endpoint.receive(ok, PEER, "UDP", 0.2)
    (event,) = endpoint.events()
    assert isinstance(event, ResponseReceived) and event.response.status == 200
    endpoint.receive(ok, PEER, "UDP", 0.3)
    assert endpoint.events() == []
    clock.advance_to(5.3)  # Timer K = T4
    assert txn.state is State.TERMINATED
    assert endpoint.outgoing() == []


def _pair() -> tuple[SipEndpoint, SipEndpoint, list[Event], list[Event]]:
    return SipEndpoint(t1=T1), SipEndpoint(t1=T1), [], []


def _pump(a: SipEndpoint, b: SipEndpoint, now: float) -> tuple[list[Event], list[Event]]:
    """Deliver everything a and b sent to each other until both are quiet."""
    a_addr, b_addr = ("192.0.2.1", 5060), ("192.0.2.2", 5060)
    a_events: list[Event] = []
    b_events: list[Event] = []
    while True:
        moved = False
        for data, _, transport in a.outgoing():
            b.receive(data, a_addr, transport, now)
            moved = True
        for data, _, transport in b.outgoing():
            a.receive(data, b_addr, transport, now)
            moved = True
        a_events += a.events()
        b_events += b.events()
        if not moved:
            return a_events, b_events


def test_two_endpoints_invite_rejected() -> None:
    uac, uas, _, _ = _pair()
    uac.local_sent_by = ("192.0.2.1", 5060)
    message = parse_message(invite(host="192.0.2.1"))
    assert isinstance(message, Request)
    message.headers.remove("Via")
    client = uac.send_request(message, ("192.0.2.2", 5060), "UDP", 0.0)
    _, uas_events = _pump(uac, uas, 0.0)
    (received,) = uas_events
    assert isinstance(received, RequestReceived)
    uas.send_response(received.transaction, uas.response(received.transaction, 180), 0.1)
    uac_events, _ = _pump(uac, uas, 0.1)
    assert [e.response.status for e in uac_events if isinstance(e, ResponseReceived)] == [180]
    uas.send_response(received.transaction, uas.response(received.transaction, 486), 0.2)
    uac_events, uas_events = _pump(uac, uas, 0.2)
    assert [e.response.status for e in uac_events if isinstance(e, ResponseReceived)] == [486]
    assert uas_events == []  # the ACK was absorbed by the server transaction
    assert client.state is State.COMPLETED
    assert received.transaction.state is State.CONFIRMED


def test_via_received_and_rport(endpoint: SipEndpoint) -> None:
    endpoint.receive(invite(host="10.0.0.5", port=5070), ("203.0.113.9", 40000), "UDP", 0.0)
    (event,) = endpoint.events()
    assert event.request.top_via.params["received"] == "203.0.113.9"
    assert event.request.top_via.params["rport"] == "40000"
    endpoint.send_response(event.transaction, endpoint.response(event.transaction, 100), 0.0)
    ((data, dest, transport),) = endpoint.outgoing()
    assert dest == ("203.0.113.9", 40000) and transport == "UDP"
    assert b"rport=40000;received=203.0.113.9" in data


def test_response_without_rport_goes_to_received_and_sent_by_port(endpoint: SipEndpoint) -> None:
    endpoint.receive(request("OPTIONS", host="10.0.0.5", port=5070), ("203.0.113.9", 1), "UDP", 0)
    ((_, dest, _),) = endpoint.outgoing()
    assert dest == ("203.0.113.9", 5070)


def test_rfc2543_transaction_matching(endpoint: SipEndpoint) -> None:
    old = invite(branch="oldstyle").replace(b";branch=oldstyle", b"")
    txn = new_invite(endpoint, old)
    endpoint.send_response(txn, endpoint.response(txn, 480), 0.0)
    endpoint.outgoing()
    endpoint.receive(old, PEER, "UDP", 0.1)
    assert statuses(endpoint) == [480] and endpoint.events() == []
    ack = request("ACK").replace(b";branch=z9hG4bK-req-1", b"").replace(b":5060", b":5060;rport")
    ack = ack.replace(
        b"To: <sip:+15551234567@192.0.2.20>",
        f"To: <sip:+15551234567@192.0.2.20>;tag={txn.local_tag}".encode(),
    )
    endpoint.receive(ack, PEER, "UDP", 0.2)
    assert txn.state is State.CONFIRMED
    assert endpoint.events() == []


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (request("OPTIONS"), 200),
        (request("FROBNICATE"), 501),
        (request("INFO", extra="Require: 100rel\r\n"), 420),
        (request("INFO", extra="").replace(b"Max-Forwards: 70", b"Max-Forwards: 0"), 483),
    ],
)
def test_automatic_answers(endpoint: SipEndpoint, data: bytes, status: int) -> None:
    endpoint.receive(data, PEER, "UDP", 0.0)
    (response,) = sent(endpoint)
    assert isinstance(response, Response) and response.status == status
    assert endpoint.events() == []
    if status in (200, 501):
        assert "BYE" in (response.headers.get_all("Allow"))
    if status == 420:
        assert response.headers.get("Unsupported") == "100rel"


def test_zero_max_forwards_can_be_allowed() -> None:
    endpoint = SipEndpoint(reject_zero_max_forwards=False)
    endpoint.receive(invite().replace(b"Max-Forwards: 70", b"Max-Forwards: 0"), PEER, "UDP", 0)
    assert [type(e) for e in endpoint.events()] == [RequestReceived]


def test_receive_never_raises(endpoint: SipEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(endpoint, "_automatic_response", explode)
    endpoint.receive(invite(), PEER, "UDP", 0.0)
    (event,) = endpoint.events()
    assert isinstance(event, BadMessage) and "bug" in str(event.error)


def test_garbage_is_reported_not_answered(endpoint: SipEndpoint) -> None:
    endpoint.receive(b"\x00\xff garbage", PEER, "UDP", 0.0)
    (event,) = endpoint.events()
    assert isinstance(event, BadMessage) and event.answered is None
    assert endpoint.outgoing() == []
