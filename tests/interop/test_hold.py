"""Hold and resume with re-INVITEs: SIPp checks the direction of each of our answers;
a PJSUA2 phone (the caller of an inbound call, the callee of a placed one) puts the
call on hold with ``setHold`` and back with ``reinvite``, and hears our RTP stop and
resume."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pjsua2 as pj
import plivo

from tests.interop.harness import CallplaneServer, WebhookServer, sipp
from tests.interop.pjua import AnsweringAccount, UaCall, UserAgent
from tests.interop.tones import write_tone

_numbers = itertools.count(15550300000)


def line(callplane: CallplaneServer, web: WebhookServer, document: str) -> str:
    number = str(next(_numbers))
    callplane.number(number, callplane.application(web.set(f"/hold/{number}", document)))
    return number


def media_of(phone: UserAgent, calls: list[UaCall], timeout: float = 15) -> UaCall:
    """The first of ``calls`` once its media is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (calls and calls[0].log.media_ready):
        phone.poll(0.05)
    assert calls and calls[0].log.media_ready
    phone.poll(0.3)
    return calls[0]


def media_status(call: UaCall) -> int:
    info = call.getInfo()  # kept: the media list dies with it
    return int(info.media[0].status)


def received(call: UaCall) -> int:
    """RTP packets the phone has received on the call so far."""
    return int(call.getStreamStat(0).rtcp.rxStat.pkt)


def received_while(phone: UserAgent, call: UaCall, seconds: float) -> int:
    before = received(call)
    phone.poll(seconds)
    return received(call) - before


def hold(phone: UserAgent, call: UaCall) -> None:
    call.setHold(pj.CallOpParam(True))
    phone.poll(0.5)  # the re-INVITE, our 200, the ACK; packets already sent drain


def resume(phone: UserAgent, call: UaCall) -> None:
    param = pj.CallOpParam(True)
    param.opt.flag = pj.PJSUA_CALL_UNHOLD
    call.reinvite(param)
    phone.poll(0.5)


def assert_hold_stops_and_resume_restarts_our_rtp(phone: UserAgent, call: UaCall) -> None:
    assert received_while(phone, call, 0.5) > 10
    hold(phone, call)
    assert media_status(call) == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD
    assert received_while(phone, call, 1.0) == 0
    resume(phone, call)
    assert media_status(call) == pj.PJSUA_CALL_MEDIA_ACTIVE
    assert received_while(phone, call, 0.5) > 10


def test_answers_to_re_invites_mirror_the_offered_direction(
    callplane: CallplaneServer, web: WebhookServer, workdir: Path
) -> None:
    number = line(callplane, web, '<Response><Wait length="20"/></Response>')
    caller = sipp(workdir, "uac_hold_resume.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output


def test_the_caller_holds_and_resumes_an_inbound_call(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    tone = web.set(
        "/hold/tone.wav", write_tone(tmp_path / "t.wav", 440, 10).read_bytes(), "audio/wav"
    )
    number = line(callplane, web, f"<Response><Play>{tone}</Play></Response>")
    call = media_of(phone, [phone.call(number, callplane.sip_port)])
    assert_hold_stops_and_resume_restarts_our_rtp(phone, call)
    call.hangup(pj.CallOpParam(True))
    assert phone.wait(call).disconnected


def test_the_callee_holds_and_resumes_a_placed_call(
    phone: UserAgent,
    callplane: CallplaneServer,
    web: WebhookServer,
    sdk: plivo.RestClient,
    tmp_path: Path,
) -> None:
    callee = AnsweringAccount(phone, "carol", record_to=tmp_path / "heard.wav", play=None)
    tone = web.set(
        "/hold/tone2.wav", write_tone(tmp_path / "t.wav", 440, 10).read_bytes(), "audio/wav"
    )
    sdk.calls.create(
        from_="14155550100",
        to_=f"sip:carol@127.0.0.1:{phone.sip_port}",
        answer_url=web.set("/hold/placed", f"<Response><Play>{tone}</Play></Response>"),
    )
    call = media_of(phone, callee.calls)
    assert_hold_stops_and_resume_restarts_our_rtp(phone, call)
    call.hangup(pj.CallOpParam(True))
    assert phone.wait(call).disconnected
    callee.shutdown()
