"""Dial's attributes end to end, with real peers on loopback: SIPp and PJSUA2 callers,
SIPp and PJSUA2 callees (reached with ``<User>``/``<Sip>`` URIs, no trunk needed),
the customer's webhook server checking callbackUrl events and action URL reports."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pjsua2 as pj
import pytest

from tests.interop.harness import (
    CallplaneServer,
    SippUas,
    WebhookServer,
    sipp,
)
from tests.interop.pjua import UaCall, UserAgent
from tests.interop.tones import peak_hz, wav_pcm, write_tone

_numbers = itertools.count(15550400000)


def line(callplane: CallplaneServer, web: WebhookServer, body: str) -> str:
    """A new number whose answer document is ``<Response>{body}</Response>``."""
    number = str(next(_numbers))
    document = f"<Response>{body}</Response>"
    callplane.number(number, callplane.application(web.set(f"/answer/{number}", document)))
    return number


def loud_seconds(pcm: np.ndarray) -> float:
    """How much of ``pcm`` (20 ms frames) carries sound."""
    frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
    return float((np.sqrt((frames**2).mean(axis=1)) > 500).sum() * 0.02)


def events(web: WebhookServer, path: str, count: int) -> list[dict[str, str]]:
    return [r.params for r in web.wait_for(path, count=count, timeout=20)]


# -- PJSUA2 callees ----------------------------------------------------------------------


class Callee(pj.Account):
    """A PJSUA2 account that answers its calls (optionally 183 first, for ``early_s``),
    presses ``press`` once media flows, plays a file and remembers the keys it hears
    and the INVITE it got."""

    def __init__(
        self,
        ua: UserAgent,
        user: str,
        *,
        press: str = "",
        play: Path | None = None,
        early_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.ua = ua
        self.press = press
        self.play = play
        self.early_s = early_s
        self.calls: list[HearingCall] = []
        self.invites: list[str] = []
        config = pj.AccountConfig()
        config.idUri = f"sip:{user}@127.0.0.1"
        media = config.mediaConfig.transportConfig
        media.boundAddress = media.publicAddress = "127.0.0.1"
        self.create(config)
        self.uri = f"sip:{user}@127.0.0.1:{ua.sip_port}"

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.invites.append(prm.rdata.wholeMsg)
        call = HearingCall(self.ua, None, self.play, account=self, call_id=prm.callId)
        call.answer_at = time.monotonic() + self.early_s
        self.calls.append(call)
        self.ua.calls.append(call)
        answer = pj.CallOpParam()
        answer.statusCode = 183 if self.early_s else 200
        call.answer(answer)
        call.answered = not self.early_s

    def tick(self) -> None:
        """Called from the polling loop: answer early calls on time, press keys."""
        now = time.monotonic()
        for call in self.calls:
            if call.log.disconnected:
                continue
            if not call.answered and now >= call.answer_at:
                call.answered = True
                ok = pj.CallOpParam()
                ok.statusCode = 200
                call.answer(ok)
            media_for = now - call.answer_at if call.answered and call.log.media_ready else 0
            if self.press and not call.pressed and media_for >= 0.5:
                call.pressed = True
                call.dialDtmf(self.press)


class HearingCall(UaCall):
    answer_at = 0.0
    answered = False
    pressed = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.digits: list[str] = []

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.digits.append(prm.digit)


def run(phone: UserAgent, call: UaCall, callees: list[Callee], timeout: float = 20) -> None:
    """Poll the phone until ``call`` ends, letting the callees act."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not call.log.disconnected:
        phone.endpoint.libHandleEvents(10)
        for callee in callees:
            callee.tick()
    if call.log.disconnected:
        phone.finish(phone.calls)


def press_after(phone: UserAgent, call: UaCall, keys: str, delay: float) -> None:
    """Poll until ``call`` has media for ``delay`` seconds, then press ``keys``."""
    end = time.monotonic() + 15
    while time.monotonic() < end and not call.log.media_ready:
        phone.endpoint.libHandleEvents(10)
    phone.poll(delay)
    call.dialDtmf(keys)


# -- callbackUrl events, sipHeaders --------------------------------------------------------


def test_callback_url_gets_answer_connected_and_hangup_and_the_invite_has_sip_headers(
    callplane, web, workdir
) -> None:
    uas = SippUas(workdir, "uas_answer.xml", ring_ms=200, hold_ms=1200)
    events_url = web.url("/events/basic")
    number = line(
        callplane,
        web,
        f'<Dial callbackUrl="{events_url}" sipHeaders="Campaign=spring,Tier=gold" '
        f'callerId="15550009999">'
        f'<User sipHeaders="Agent=7">{uas.uri("bob")}</User></Dial>',
    )
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    callee = uas.result()
    assert callee.returncode == 0, callee.output
    invite = callee.output.split("INVITE sip:bob@", 1)[1].split("\n\n", 1)[0]
    for header in ("X-PH-Campaign: spring", "X-PH-Tier: gold", "X-PH-Agent: 7"):
        assert header in invite
    answer, connected, hangup = events(web, "/events/basic", 3)
    assert [e["Event"] for e in (answer, connected, hangup)] == [
        "DialAnswer",
        "DialConnected",
        "DialHangup",
    ]
    assert [e["DialAction"] for e in (answer, connected, hangup)] == [
        "answer",
        "connected",
        "hangup",
    ]
    assert answer["DialBLegStatus"] == "answer" and answer["DialBLegTo"] == "bob"
    assert answer["DialBLegFrom"] == "15550009999" and answer["DialBLegPosition"] == "1"
    assert answer["DialALegUUID"] == answer["CallUUID"]
    assert len({e["DialBLegUUID"] for e in (answer, connected, hangup)}) == 1
    assert hangup["DialBLegHangupCause"] == "NORMAL_CLEARING"
    assert hangup["DialBLegHangupCauseName"] == "Normal Hangup"
    assert hangup["DialBLegHangupCauseCode"] == "4000"
    assert hangup["DialBLegHangupSource"] == "Call recipient"
    assert int(hangup["DialBLegDuration"]) >= 1
    assert int(hangup["DialBLegBillDuration"]) >= int(hangup["DialBLegDuration"])


# -- during the bridge: hangupOnStar, digitsMatch, sendDigits ------------------------------


def test_star_hangs_up_the_callee_digits_match_is_reported_and_send_digits_reach_the_callee(
    phone, callplane, web, tmp_path
) -> None:
    callee = Callee(phone, "starcallee", play=write_tone(tmp_path / "callee.wav", 1000, 20))
    action = web.url("/star/action")
    after = web.set("/star/after", "<Response><Wait length='1'/></Response>")
    number = line(
        callplane,
        web,
        f'<Dial hangupOnStar="true" digitsMatch="12" callbackUrl="{web.url("/star/events")}" '
        f'action="{action}" redirect="false">'
        f'<User sendDigits="9w8">{callee.uri}</User></Dial>'
        f"<Redirect>{after}</Redirect>",
    )
    call = phone.call(number, callplane.sip_port)
    press_after(phone, call, "12*", delay=1.5)
    run(phone, call, [callee])
    report = web.wait_for("/star/action")[0].params
    assert report["DialStatus"] == "completed"
    assert report["DialHangupCause"] == "NORMAL_CLEARING"
    web.wait_for("/star/after")  # the caller went on with the document after Dial
    heard = callee.calls[0]
    assert heard.log.disconnected  # Callplane hung up the callee
    assert "".join(heard.digits) == "9812"  # sendDigits, then the caller's keys; * kept back
    sent = events(web, "/star/events", 4)
    digits = next(e for e in sent if e["Event"] == "DialDigits")
    assert digits["DialAction"] == "digits" and digits["DialDigitsMatch"] == "12"
    hangup = next(e for e in sent if e["Event"] == "DialHangup")
    assert hangup["DialBLegHangupSource"] == "Caller"
    callee.shutdown()


# -- confirmSound / confirmKey --------------------------------------------------------------


def test_only_the_callee_pressing_the_confirm_key_is_connected(
    phone, callplane, web, tmp_path
) -> None:
    web.set(
        "/confirm/beep.wav", write_tone(tmp_path / "beep.wav", 600, 0.5).read_bytes(), "audio/wav"
    )
    sound = web.set(
        "/confirm/sound", f"<Response><Play>{web.url('/confirm/beep.wav')}</Play></Response>"
    )
    refuser = Callee(phone, "refuser", press="2")
    accepter = Callee(phone, "accepter", press="5", play=write_tone(tmp_path / "a.wav", 1000, 20))
    action = web.url("/confirm/action")
    number = line(
        callplane,
        web,
        f'<Dial confirmSound="{sound}" confirmKey="5" timeLimit="3" action="{action}" '
        f'redirect="false" callbackUrl="{web.url("/confirm/events")}">'
        f"<User>{refuser.uri}</User><User>{accepter.uri}</User></Dial>",
    )
    caller_heard = tmp_path / "caller.wav"
    call = phone.call(number, callplane.sip_port, record_to=caller_heard)
    run(phone, call, [refuser, accepter])
    report = web.wait_for("/confirm/action")[0].params
    assert report["DialStatus"] == "completed"
    assert report["DialHangupCause"] == "ALLOTTED_TIMEOUT"
    b_leg = callplane.api("GET", f"Call/{report['DialBLegUUID']}/")
    assert b_leg["to_number"] == "accepter"
    assert web.seen("/confirm/sound")  # fetched for each answering callee
    assert refuser.calls[0].log.disconnected
    assert abs(peak_hz(wav_pcm(caller_heard)) - 1000) < 20  # bridged to the accepter
    sent = [e for e in events(web, "/confirm/events", 5) if e["Event"] == "DialHangup"]
    refused = next(e for e in sent if e["DialBLegTo"] == "refuser")
    assert refused["DialBLegHangupCause"] == "NO_ANSWER"
    refuser.shutdown()
    accepter.shutdown()


def test_a_callee_that_does_not_confirm_gives_no_answer(phone, callplane, web) -> None:
    refuser = Callee(phone, "lonerefuser", press="1")
    action = web.url("/noconfirm/action")
    number = line(
        callplane,
        web,
        f'<Dial confirmKey="#" action="{action}" redirect="false">'
        f"<User>{refuser.uri}</User></Dial><Speak>bye</Speak>",
    )
    call = phone.call(number, callplane.sip_port)
    run(phone, call, [refuser])
    report = web.wait_for("/noconfirm/action")[0].params
    assert report["DialStatus"] == "no-answer" and report["DialHangupCause"] == "NO_ANSWER"
    refuser.shutdown()


# -- dialMusic ------------------------------------------------------------------------------


def test_dial_music_url_is_played_to_the_caller_while_the_callee_rings(
    phone, callplane, web, workdir, tmp_path
) -> None:
    web.set("/music/tone.wav", write_tone(tmp_path / "m.wav", 700, 0.4).read_bytes(), "audio/wav")
    music = web.set("/music/doc", f"<Response><Play>{web.url('/music/tone.wav')}</Play></Response>")
    uas = SippUas(workdir, "uas_answer.xml", ring_ms=2500, hold_ms=300)
    number = line(callplane, web, f'<Dial dialMusic="{music}"><User>{uas.uri()}</User></Dial>')
    heard = tmp_path / "caller.wav"
    call = phone.call(number, callplane.sip_port, record_to=heard)
    run(phone, call, [])
    assert uas.result().returncode == 0
    assert 183 in {code for _, code in call.log.states}  # early media, not 180
    pcm = wav_pcm(heard)
    assert abs(peak_hz(pcm) - 700) < 20
    assert loud_seconds(pcm) >= 1.5  # looped for the whole ring (the 0.4 s file repeats)


def test_dial_music_real_relays_the_callees_early_media(phone, callplane, web, tmp_path) -> None:
    callee = Callee(phone, "early", play=write_tone(tmp_path / "e.wav", 1200, 20), early_s=2.5)
    number = line(
        callplane,
        web,
        f'<Dial dialMusic="real" timeLimit="1"><User>{callee.uri}</User></Dial>',
    )
    heard = tmp_path / "caller.wav"
    call = phone.call(number, callplane.sip_port, record_to=heard)
    run(phone, call, [callee])
    assert 183 in {code for _, code in call.log.states}
    pcm = wav_pcm(heard)
    assert abs(peak_hz(pcm) - 1200) < 20
    assert loud_seconds(pcm) >= 2.5  # the callee's early media, then 1 s bridged
    callee.shutdown()


# -- Record startOnDialAnswer ----------------------------------------------------------------


def test_record_start_on_dial_answer_records_the_bridged_call(callplane, web, workdir) -> None:
    uas = SippUas(workdir, "uas_answer.xml", ring_ms=1500, hold_ms=1500)
    number = line(
        callplane,
        web,
        f'<Record startOnDialAnswer="true" fileFormat="wav" '
        f'callbackUrl="{web.url("/sda/recorded")}"/>'
        f"<Dial><User>{uas.uri()}</User></Dial>",
    )
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    recorded = web.wait_for("/sda/recorded", timeout=20)[0].params
    duration_ms = int(recorded["RecordingDurationMs"])
    assert 1000 <= duration_ms < 2900  # from the answer (not the 1.5 s of ringing) to the end
    assert callplane.api("GET", f"Recording/{recorded['RecordingID']}/")


def test_twiml_dial_record_reports_the_recording(callplane, web, workdir) -> None:
    uas = SippUas(workdir, "uas_answer.xml", ring_ms=200, hold_ms=1200)
    number = str(next(_numbers))
    twiml = (
        f'<Response><Dial record="record-from-answer" '
        f'recordingStatusCallback="{web.url("/twrec/done")}">'
        f"<Sip>{uas.uri()}</Sip></Dial></Response>"
    )
    callplane.number(number, callplane.application(web.set(f"/answer/{number}", twiml)))
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    recorded = web.wait_for("/twrec/done", timeout=20)[0].params
    assert int(recorded["RecordingDurationMs"]) >= 1000
    assert recorded["RecordingSid"] == recorded["RecordingID"]


# -- action URL reports, digest, timeLimit, hunting -----------------------------------------


def test_digest_challenge_on_sip_is_answered_and_time_limit_ends_the_call(
    callplane, web, workdir
) -> None:
    uas = SippUas(workdir, "uas_digest_challenge.xml", user="trunkuser")
    number = str(next(_numbers))
    action = web.url(f"/digest/{number}")
    twiml = (
        f'<Response><Dial action="{action}" method="GET" timeLimit="1">'
        f'<Sip username="trunkuser" password="s3cret">{uas.uri()}</Sip></Dial></Response>'
    )
    callplane.number(number, callplane.application(web.set(f"/answer/{number}", twiml)))
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    callee = uas.result()
    assert callee.returncode == 0, callee.output
    retry = callee.output.split("Authorization:", 1)[1].split("\n", 1)[0]
    assert 'username="trunkuser"' in retry and "response=" in retry
    request = web.wait_for(f"/digest/{number}")[0]
    assert request.method == "GET"
    assert request.params["DialStatus"] == "completed"
    assert request.params["DialCallStatus"] == "completed"
    assert request.params["DialHangupCause"] == "ALLOTTED_TIMEOUT"


@pytest.mark.parametrize(
    ("code", "reason", "status", "cause"),
    [
        (603, "Decline", "busy", "CALL_REJECTED"),
        (503, "Service Unavailable", "failed", "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_refusals_reach_the_action_url_by_get(
    callplane, web, workdir, code, reason, status, cause
) -> None:
    uas = SippUas(workdir, "uas_refuse.xml", code=code, reason=reason)
    path = f"/refused/{code}"
    action = web.set(path, "<Response></Response>")
    number = line(
        callplane, web, f'<Dial action="{action}" method="GET"><User>{uas.uri()}</User></Dial>'
    )
    caller = sipp(workdir, "uac_dial_refused.xml", callplane.sip_port, to=number, code=603)
    assert caller.returncode == 0, caller.output
    assert uas.result().returncode == 0
    request = web.wait_for(path, timeout=20)[0]
    assert request.method == "GET"
    assert request.params["DialStatus"] == status
    assert request.params["DialBLegUUID"] == ""
    assert request.params["DialHangupCause"] == cause


def test_dials_in_a_row_hunt_until_one_answers(callplane, web, workdir) -> None:
    busy = SippUas(workdir, "uas_refuse.xml", code=486, reason="Busy Here")
    free = SippUas(workdir, "uas_answer.xml", ring_ms=200, hold_ms=800)
    number = line(
        callplane,
        web,
        f'<Dial action="{web.url("/hunt/first")}" redirect="false" timeout="5">'
        f"<User>{busy.uri('first')}</User></Dial>"
        f'<Dial action="{web.url("/hunt/second")}" redirect="false" timeout="5">'
        f"<User>{free.uri('second')}</User></Dial>",
    )
    caller = sipp(workdir, "uac_dial_answered.xml", callplane.sip_port, to=number)
    assert caller.returncode == 0, caller.output
    assert busy.result().returncode == 0
    assert free.result().returncode == 0
    first = web.wait_for("/hunt/first")[0].params
    second = web.wait_for("/hunt/second")[0].params
    assert first["DialStatus"] == "busy" and first["DialHangupCause"] == "USER_BUSY"
    assert second["DialStatus"] == "completed"
    assert callplane.api("GET", f"Call/{second['DialBLegUUID']}/")["to_number"] == "second"
