"""Dial with audio: a PJSUA2 caller and a PJSUA2 callee, bridged through Callplane,
each hear the other's tone."""

from __future__ import annotations

from pathlib import Path

from tests.interop.harness import CallplaneServer, WebhookServer
from tests.interop.pjua import AnsweringAccount, UserAgent
from tests.interop.tones import wav_peak_hz, write_tone


def test_caller_and_callee_hear_each_other_through_the_bridge(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, tmp_path: Path
) -> None:
    callee_heard = tmp_path / "callee-heard.wav"
    callee = AnsweringAccount(
        phone, "callee", record_to=callee_heard, play=write_tone(tmp_path / "callee.wav", 1000, 6)
    )
    action = web.url("/bridge/dial-status")
    document = (
        f'<Response><Dial timeLimit="3" action="{action}" redirect="false">'
        f"<User>sip:callee@127.0.0.1:{phone.sip_port}</User></Dial></Response>"
    )
    callplane.number("15551110001", callplane.application(web.set("/bridge/answer", document)))
    caller_heard = tmp_path / "caller-heard.wav"
    call = phone.call(
        "15551110001",
        callplane.sip_port,
        record_to=caller_heard,
        play=write_tone(tmp_path / "caller.wav", 440, 6),
    )
    log = phone.wait(call, timeout=20)
    assert log.disconnected and callee.calls
    phone.finish(callee.calls)
    status = web.wait_for("/bridge/dial-status")[0].params
    assert status["DialStatus"] == "completed" and status["DialBLegUUID"]
    assert abs(wav_peak_hz(caller_heard) - 1000) < 20  # the caller heard the callee
    assert abs(wav_peak_hz(callee_heard) - 440) < 20  # the callee heard the caller
    callee.shutdown()
