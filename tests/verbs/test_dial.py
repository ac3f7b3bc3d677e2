"""Dial: the status table, and the executor run with real B legs against a scripted callee.

The B legs are the real ``OutboundLeg``: their INVITEs go to ``FakeSip`` (the
callee's answers are real SIP responses), their RTP is a real ``RtpSession`` on
the loop's in-memory network.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from callplane.calls import causes
from callplane.calls.call import Call
from callplane.calls.causes import Cause
from callplane.markup.verbs import Dial, DialClient, Dialect, DialNumber, Speak
from callplane.store.models import Trunk
from callplane.verbs import EXECUTORS
from callplane.verbs.base import ENDED, NEXT, NewDocument
from callplane.verbs.dial import DialResult, _unanswered, params
from tests.verbs.fake_sip import FakeSip, Phone, sdp
from tests.verbs.fakes import AUTH_ID, FakeLeg, FakeServices, RtpLeg, new_call, pcm_level, until

ACTION = "http://app.test/dial-action"
EVENTS = "http://app.test/dial-events"
GATEWAY = ("127.0.0.9", 5070)
NUMBER = "15551230001"
OTHER = "15551230002"


def b_leg(cause: Cause | None, rang: bool = False) -> SimpleNamespace:
    """What ``_unanswered`` reads of a B leg that did not answer."""
    return SimpleNamespace(cause=cause, rang=rang)


# What ``params`` reads of the B leg that answered: 42 s long.
ANSWERED = SimpleNamespace(uuid="B-UUID", record=SimpleNamespace(call_duration=42))


# -- the status table (verbs/dial.py docstring) ---------------------------------------


@pytest.mark.parametrize(
    ("legs", "status", "rang", "cause"),
    [
        ([b_leg(causes.BUSY)], "busy", False, "USER_BUSY"),
        ([b_leg(causes.DIAL_DECLINED, rang=True)], "busy", True, "CALL_REJECTED"),
        ([b_leg(causes.NO_ANSWER, rang=True)], "no-answer", True, "NO_ANSWER"),
        ([b_leg(causes.NO_USER_RESPONSE)], "no-answer", False, "NO_USER_RESPONSE"),
        ([b_leg(causes.DIAL_TIMEOUT)], "timeout", False, "RECOVERY_ON_TIMER_EXPIRE"),
        ([b_leg(causes.UNALLOCATED_NUMBER)], "failed", False, "UNALLOCATED_NUMBER"),
        ([b_leg(causes.FORBIDDEN)], "failed", False, "CALL_REJECTED"),
        ([b_leg(causes.SERVICE_UNAVAILABLE)], "failed", False, "NORMAL_TEMPORARY_FAILURE"),
        ([b_leg(causes.NO_COMMON_CODEC)], "failed", False, "INCOMPATIBLE_DESTINATION"),
        ([b_leg(None)], "failed", False, "NORMAL_TEMPORARY_FAILURE"),  # never ended properly
        ([b_leg(causes.CANCELLED)], "failed", False, "ORIGINATOR_CANCEL"),  # a 487 of its own
        # several legs: the most telling decides (no-answer, busy, timeout, failed)
        ([b_leg(causes.BUSY), b_leg(causes.NO_ANSWER)], "no-answer", False, "NO_ANSWER"),
        ([b_leg(causes.DIAL_TIMEOUT), b_leg(causes.BUSY)], "busy", False, "USER_BUSY"),
        ([b_leg(causes.FORBIDDEN), b_leg(causes.DIAL_TIMEOUT)], "timeout", False,
         "RECOVERY_ON_TIMER_EXPIRE"),
        ([b_leg(causes.UNALLOCATED_NUMBER), b_leg(None)], "failed", False, "UNALLOCATED_NUMBER"),
        ([b_leg(causes.BUSY), b_leg(causes.FORBIDDEN, rang=True)], "busy", True, "USER_BUSY"),
    ],
)  # fmt: skip
def test_unanswered_dial_status_hangup_cause_and_ring_status(legs, status, rang, cause) -> None:
    assert _unanswered(legs) == DialResult(status, rang, cause)


@pytest.mark.parametrize(
    ("dialect", "result", "expected"),
    [
        (
            Dialect.PLIVO,
            DialResult("busy", True, "USER_BUSY"),
            {"DialStatus": "busy", "DialRingStatus": "true", "DialHangupCause": "USER_BUSY",
             "DialBLegUUID": ""},
        ),
        (
            Dialect.PLIVO,
            DialResult("failed", False, "NO_ROUTE_DESTINATION"),
            {"DialStatus": "failed", "DialRingStatus": "false",
             "DialHangupCause": "NO_ROUTE_DESTINATION", "DialBLegUUID": ""},
        ),
        (
            Dialect.PLIVO,
            DialResult("completed", True, "NORMAL_CLEARING", ANSWERED),
            {"DialStatus": "completed", "DialRingStatus": "true",
             "DialHangupCause": "NORMAL_CLEARING", "DialBLegUUID": "B-UUID"},
        ),
        (
            Dialect.TWIML,
            DialResult("completed", False, "ALLOTTED_TIMEOUT", ANSWERED),
            {"DialStatus": "completed", "DialRingStatus": "false",
             "DialHangupCause": "ALLOTTED_TIMEOUT", "DialBLegUUID": "B-UUID",
             "DialCallStatus": "completed", "DialCallSid": "B-UUID", "DialCallDuration": "42"},
        ),
        (
            Dialect.TWIML,
            DialResult("no-answer", True, "NO_ANSWER"),
            {"DialStatus": "no-answer", "DialRingStatus": "true", "DialHangupCause": "NO_ANSWER",
             "DialBLegUUID": "", "DialCallStatus": "no-answer", "DialCallSid": "",
             "DialCallDuration": "0"},
        ),
        (
            Dialect.TWIML,
            DialResult("timeout", True, "NO_ANSWER"),
            {"DialStatus": "timeout", "DialRingStatus": "true", "DialHangupCause": "NO_ANSWER",
             "DialBLegUUID": "", "DialCallStatus": "no-answer", "DialCallSid": "",
             "DialCallDuration": "0"},
        ),
    ],
)  # fmt: skip
def test_action_url_parameters(call: Call, dialect, result, expected) -> None:
    call.dialect = dialect

    assert params(call, result) == {**expected, "DialALegUUID": call.uuid}


# -- the executor, in memory -------------------------------------------------------------


@pytest.fixture
def sip(services: FakeServices) -> FakeSip:
    fake = FakeSip()
    fake.outbound = services.outbound
    return fake


@pytest.fixture
def leg(sip: FakeSip) -> FakeLeg:
    return FakeLeg(sip)


@pytest.fixture
def gateway(services: FakeServices) -> Trunk:
    trunk = Trunk("TR1", AUTH_ID, "gateway", GATEWAY[0], GATEWAY[1])
    services.trunks.replace([trunk])
    return trunk


async def dial(call: Call, services: FakeServices, verb: Dial) -> object:
    services.webhooks.answer(ACTION, "<Response><Speak>after the dial</Speak></Response>")
    outcome = await EXECUTORS[Dial](call, verb)
    await services.settle()
    return outcome


async def test_no_destination_fails_at_once_without_answering(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip
) -> None:
    verb = Dial((DialNumber(NUMBER), DialClient("nobody")), action=ACTION)  # no trunk, no binding

    outcome = await dial(call, services, verb)

    assert isinstance(outcome, NewDocument) and outcome.document.verbs == (Speak("after the dial"),)
    request = services.webhooks.one(ACTION)
    assert request.kind == "fetch" and request.params["CallUUID"] == call.uuid
    assert {k: v for k, v in request.params.items() if k.startswith("Dial")} == {
        "DialStatus": "failed",
        "DialRingStatus": "false",
        "DialHangupCause": "NO_ROUTE_DESTINATION",
        "DialALegUUID": call.uuid,
        "DialBLegUUID": "",
    }
    assert sip.sent == [] and leg.codes == [] and not call.ended
    assert "no destination" in (call.record.error or "")


@pytest.mark.parametrize(
    ("final", "status", "cause"),
    [
        (486, "busy", "USER_BUSY"),
        (600, "busy", "USER_BUSY"),
        (603, "busy", "CALL_REJECTED"),
        (404, "failed", "UNALLOCATED_NUMBER"),
        (403, "failed", "CALL_REJECTED"),
        (480, "no-answer", "NO_USER_RESPONSE"),
        (503, "failed", "NORMAL_TEMPORARY_FAILURE"),
        (488, "failed", "INCOMPATIBLE_DESTINATION"),
    ],
)
async def test_a_refused_b_leg_reports_its_status(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip, gateway: Trunk,
    final, status, cause,
) -> None:  # fmt: skip
    sip.callee(NUMBER, 100, final)

    assert isinstance(
        await dial(call, services, Dial((DialNumber(NUMBER),), action=ACTION)), NewDocument
    )

    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == (status, cause)
    assert params["DialRingStatus"] == "false" and params["DialBLegUUID"] == ""
    assert leg.codes == []  # no ringback: the callee never rang


async def test_a_busy_callee_after_ringing(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    sip.callee(NUMBER, 180, 1.0, 486)
    verb = Dial(
        (DialNumber(NUMBER),),
        action=ACTION,
        redirect=False,
        caller_id="15550009999",
        callback_url=EVENTS,
        sip_headers={"Team": "sales"},
    )

    assert await dial(call, services, verb) == NEXT  # redirect=false: the verbs after Dial run

    (invite,) = sip.requests("INVITE")
    assert invite.uri == f"sip:{NUMBER}@{GATEWAY[0]}:{GATEWAY[1]}"
    assert invite.headers.get("X-PH-Team") == "sales"
    assert invite.from_addr.uri.user == "15550009999"
    assert sip.sent[0][1:] == (GATEWAY, "UDP")
    assert leg.codes == [180]  # the caller hears ringback while the callee rings
    action = services.webhooks.one(ACTION).params
    assert (action["DialStatus"], action["DialRingStatus"]) == ("busy", "true")
    assert action["DialHangupCause"] == "USER_BUSY"
    (event,) = services.webhooks.to(EVENTS)
    assert event.kind == "notify"
    assert event.params["Event"] == "DialHangup" and event.params["DialAction"] == "hangup"
    assert event.params["DialBLegHangupCause"] == "USER_BUSY"
    assert event.params["DialBLegTo"] == NUMBER and event.params["DialBLegPosition"] == "1"
    assert event.params["DialALegUUID"] == call.uuid and event.params["DialBLegUUID"]
    await services.records.flush()
    (b_record,) = [r for r in services.written if r.call_direction == "outbound"]
    assert b_record.parent_call_uuid == call.uuid and b_record.call_status == "busy"
    assert b_record.sip_response_code == 486
    assert services.ports.in_use == 0 and asyncio.get_running_loop().bound == {}  # RTP closed


async def test_ring_timeout_cancels_a_ringing_leg_as_no_answer(
    call: Call, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    sip.callee(NUMBER, 180)  # rings and rings
    loop = asyncio.get_running_loop()
    start = loop.time()

    await dial(call, services, Dial((DialNumber(NUMBER),), action=ACTION, timeout=5))

    assert loop.time() - start == pytest.approx(5, abs=0.1)
    (cancel,) = sip.requests("CANCEL")
    (invite,) = sip.requests("INVITE")
    assert cancel.call_id == invite.call_id and cancel.cseq.seq == invite.cseq.seq
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == ("no-answer", "NO_ANSWER")
    assert params["DialRingStatus"] == "true"


async def test_a_destination_that_never_responds_is_a_timeout(
    call: Call, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    await dial(call, services, Dial((DialNumber(NUMBER),), action=ACTION, timeout=5))

    assert sip.requests("CANCEL") == []  # no provisional yet: nothing to CANCEL (RFC 3261 §9.1)
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == (
        "timeout",
        "RECOVERY_ON_TIMER_EXPIRE",
    )


async def test_the_most_telling_of_several_legs_decides(
    call: Call, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    sip.callee(NUMBER, 486)
    sip.callee(OTHER, 180, 2.0, 480)
    verb = Dial((DialNumber(NUMBER), DialNumber(OTHER)), action=ACTION, callback_url=EVENTS)

    await dial(call, services, verb)

    assert len(sip.requests("INVITE")) == 2
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == ("no-answer", "NO_USER_RESPONSE")
    assert params["DialRingStatus"] == "true"
    hangups = {e.params["DialBLegTo"]: e.params for e in services.webhooks.to(EVENTS)}
    assert hangups[NUMBER]["DialBLegPosition"] == "1"
    assert hangups[NUMBER]["DialBLegHangupCause"] == "USER_BUSY"
    assert hangups[OTHER]["DialBLegPosition"] == "2"
    assert hangups[OTHER]["DialBLegHangupCause"] == "NO_USER_RESPONSE"


async def test_the_caller_hanging_up_cancels_the_ringing_legs(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    sip.callee(NUMBER, 180)
    services.webhooks.answer(ACTION, "<Response/>")
    call.task = asyncio.ensure_future(  # type: ignore[assignment]
        EXECUTORS[Dial](call, Dial((DialNumber(NUMBER),), action=ACTION))
    )
    asyncio.get_running_loop().call_later(3, call.remote_hangup)

    with pytest.raises(asyncio.CancelledError):
        await call.task
    await services.settle()

    assert leg.codes == [180, 487]  # ringback, then the caller's CANCEL answered
    assert len(sip.requests("CANCEL")) == 1
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == ("no-answer", "ORIGINATOR_CANCEL")
    assert params["CallStatus"] == "cancel"  # the call's status when the report left
    assert call.record.hangup_cause_name == causes.CANCELLED.name


async def test_a_call_that_ends_as_the_callee_answers_is_still_reported(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    """The A leg cannot be answered (no common codec): the call ends with no
    cancellation, and the action URL still hears how the Dial ended."""
    leg.no_common_codec = True
    sip.callee(NUMBER, (200, sdp(50002)))

    outcome = await dial(call, services, Dial((DialNumber(NUMBER),), action=ACTION))

    assert call.ended and outcome is ENDED  # nothing is left to drive: the answer is ignored
    request = services.webhooks.one(ACTION)
    assert request.params["DialStatus"] == "completed" and request.params["DialBLegUUID"]
    assert request.params["CallStatus"] == "failed"


async def test_an_answered_leg_is_bridged_until_the_time_limit(
    services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    caller_phone, callee_phone = await Phone.at(50000), await Phone.at(50002)
    leg = RtpLeg(sip, services.ports, ("127.0.0.1", 50000))
    call = new_call(services, leg)
    sip.callee(NUMBER, 180, 0.5, (200, sdp(50002)))
    verb = Dial((DialNumber(NUMBER),), action=ACTION, time_limit=3, callback_url=EVENTS)
    dialing = asyncio.ensure_future(dial(call, services, verb))
    await until(lambda: 200 in leg.codes)
    (b,) = services.outbound.legs.values()
    assert b.answered and sip.acks  # the B leg's 200 was ACKed

    talk = bytes(range(160))
    for _ in range(5):
        callee_phone.send_audio(talk, ("127.0.0.1", b.rtp.local_port))
        await asyncio.sleep(0.02)
    outcome = await dialing

    assert isinstance(outcome, NewDocument)
    assert leg.codes == [180, 200] and call.answered and not call.ended
    assert [p.payload for p in caller_phone.heard] == [talk] * 5  # relayed to the caller
    assert len(sip.requests("BYE")) == 1  # the B leg hung up at the time limit
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == ("completed", "ALLOTTED_TIMEOUT")
    assert params["DialBLegUUID"] == b.uuid and params["DialRingStatus"] == "true"
    events = [e.params["Event"] for e in services.webhooks.to(EVENTS)]
    assert events == ["DialAnswer", "DialConnected", "DialHangup"]
    caller_phone.close()
    callee_phone.close()
    await call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()
    assert asyncio.get_running_loop().bound == {} and services.ports.in_use == 0


async def test_the_callers_star_ends_the_bridge_and_other_keys_reach_the_callee(
    services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    caller_phone, callee_phone = await Phone.at(50000), await Phone.at(50002)
    leg = RtpLeg(sip, services.ports, ("127.0.0.1", 50000))
    call = new_call(services, leg)
    sip.callee(NUMBER, (200, sdp(50002)))
    verb = Dial((DialNumber(NUMBER),), action=ACTION, hangup_on_star=True)
    dialing = asyncio.ensure_future(dial(call, services, verb))
    await until(lambda: 200 in leg.codes)
    a_port = leg.media.session.local_port  # type: ignore[union-attr]
    start = asyncio.get_running_loop().time()

    caller_phone.send_digit("1", ("127.0.0.1", a_port))
    await until(lambda: callee_phone.digits() == ["1"])
    caller_phone.send_digit("*", ("127.0.0.1", a_port))
    await dialing

    assert asyncio.get_running_loop().time() - start < 5  # the star, not the 4 h time limit
    assert callee_phone.digits() == ["1"]  # the "1" was re-sent to the callee as RFC 4733
    assert len(sip.requests("BYE")) == 1 and not call.ended
    params = services.webhooks.one(ACTION).params
    assert (params["DialStatus"], params["DialHangupCause"]) == ("completed", "NORMAL_CLEARING")
    assert params["DialRingStatus"] == "false"  # it answered without ringing
    caller_phone.close()
    callee_phone.close()
    await call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()


async def test_dial_music_plays_to_the_caller_as_early_media_while_legs_ring(
    call: Call, leg: FakeLeg, services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    music = "http://app.test/dial-music"
    services.webhooks.answer(music, "<Response><Play>http://media.test/tune.wav</Play></Response>")
    services.audio.files["http://media.test/tune.wav"] = pcm_level(321, 4)
    sip.callee(NUMBER, 180, 3.0, 486)

    await dial(call, services, Dial((DialNumber(NUMBER),), action=ACTION, dial_music=music))

    assert leg.codes == [183]  # early media instead of a bare 180, and never answered
    played = leg.session.played
    assert len(played) >= 100 and all((frame == 321).all() for frame in played)  # looped 3 s
    assert services.webhooks.one(music).method == "POST"
    assert services.webhooks.one(ACTION).params["DialStatus"] == "busy"


async def test_confirm_key_connects_the_callee_who_presses_it(
    services: FakeServices, sip: FakeSip, gateway: Trunk
) -> None:
    confirm = "http://app.test/confirm"
    services.webhooks.answer(
        confirm, "<Response><Play>http://media.test/press1.wav</Play></Response>"
    )
    services.audio.files["http://media.test/press1.wav"] = pcm_level(1200, 10)
    caller = await Phone.at(50000)
    first, second = await Phone.at(50002), await Phone.at(50004)
    sip.callee(NUMBER, 180, 0.5, (200, sdp(50002)))
    sip.callee(OTHER, 180, 1.0, (200, sdp(50004)))
    leg = RtpLeg(sip, services.ports, ("127.0.0.1", 50000))
    call = new_call(services, leg)
    verb = Dial(
        (DialNumber(NUMBER), DialNumber(OTHER)),
        action=ACTION,
        confirm_sound=confirm,
        confirm_key="1",
        callback_url=EVENTS,
        time_limit=2,
    )
    dialing = asyncio.ensure_future(dial(call, services, verb))
    await until(lambda: sum(b.answered for b in services.outbound.legs.values()) == 2)
    by_number = {b.record.to_number: b for b in services.outbound.legs.values()}
    await until(lambda: first.heard and second.heard)  # both hear the confirm sound

    first.send_digit("2", ("127.0.0.1", by_number[NUMBER].rtp.local_port))
    await until(lambda: by_number[NUMBER].ended.is_set())
    assert leg.codes == [180]  # a wrong key connects nobody
    second.send_digit("1", ("127.0.0.1", by_number[OTHER].rtp.local_port))
    await dialing

    assert leg.codes == [180, 200]
    params = services.webhooks.one(ACTION).params
    assert params["DialBLegUUID"] == by_number[OTHER].uuid
    assert (params["DialStatus"], params["DialHangupCause"]) == ("completed", "ALLOTTED_TIMEOUT")
    assert by_number[NUMBER].cause is causes.NO_ANSWER
    events = [(e.params["Event"], e.params["DialBLegTo"]) for e in services.webhooks.to(EVENTS)]
    assert events == [
        ("DialAnswer", NUMBER),
        ("DialAnswer", OTHER),
        ("DialHangup", NUMBER),
        ("DialConnected", OTHER),
        ("DialHangup", OTHER),
    ]
    assert len(sip.requests("BYE")) == 2
    for phone in (caller, first, second):
        phone.close()
    await call.hangup(causes.NORMAL_HANGUP, causes.SOURCE_CALLER)
    await services.settle()
