"""More answered-call behaviour against real peers: the caller hanging up, late SDP offers,
early media, SIP INFO digits, GetInput's options, silence-ended Wait and scheduled Hangup.
"""

from __future__ import annotations

import contextlib
import socket
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pjsua2 as pj
import pytest

from tests.interop.harness import CallplaneServer, WebhookServer, sipp
from tests.interop.pjua import UaCall, UserAgent

_numbers = iter(range(15554450000, 15554459999))
ANSWERED = ("CONFIRMED", 200)


@pytest.fixture(autouse=True)
def _no_call_left_up(phone: UserAgent) -> Iterator[None]:
    """A test that failed mid-call must not leave its call up for the next one."""
    yield
    for call in phone.calls:
        if not call.log.disconnected:
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam())
            phone.wait(call, timeout=3)


class Line:
    """A number whose answer URL serves ``document``; its hangup URL is recorded."""

    def __init__(self, callplane: CallplaneServer, web: WebhookServer, document: str = "") -> None:
        self.number = str(next(_numbers))
        self.callplane = callplane
        self.web = web
        self.hangup_path = f"/more/hup/{self.number}"
        url = self.serve(document)
        app = callplane.application(url, hangup_url=web.url(self.hangup_path))
        callplane.number(self.number, app)

    def serve(self, document: str) -> str:
        """Set the answer document (pages for its URLs can be made first)."""
        return self.web.set(f"/more/answer/{self.number}", document)

    def url(self, name: str, document: str = "<Response><Hangup/></Response>") -> str:
        """A page of this line's own (action, Redirect target...)."""
        return self.web.set(self.path(name), document)

    def path(self, name: str) -> str:
        return f"/more/{name}/{self.number}"

    def hangup(self) -> dict[str, str]:
        return self.web.wait_for(self.hangup_path)[0].params

    def record(self) -> dict[str, object]:
        """The final call record. Polled: it is written up to ~50 ms after the hangup
        callback is sent, and until then the API returns the call-start snapshot."""
        uuid = self.hangup()["CallUUID"]
        deadline = time.monotonic() + 10
        while True:
            record = self.callplane.api("GET", f"Call/{uuid}/")
            if record["state"] == "ended" or time.monotonic() > deadline:
                return record
            time.sleep(0.02)


def until(phone: UserAgent, condition: Callable[[], object], timeout: float) -> float:
    """Pump pjsua events until ``condition()``; the monotonic time it became true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return time.monotonic()
        phone.endpoint.libHandleEvents(10)
    raise AssertionError(f"condition not met within {timeout} s")


def answered(phone: UserAgent, call: UaCall, timeout: float = 15.0) -> float:
    return until(phone, lambda: ANSWERED in call.log.states and call.log.media_ready, timeout)


def send_info_digits(call: UaCall, digits: str) -> None:
    param = pj.CallSendDtmfParam()
    param.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
    param.digits = digits
    call.sendDtmf(param)


def _digits_call(
    phone: UserAgent, callplane: CallplaneServer, line: Line, digits: str, info: bool = True
) -> UaCall:
    call = phone.call(line.number, callplane.sip_port)
    answered(phone, call)
    phone.poll(0.3)
    if info:
        send_info_digits(call, digits)
    else:
        call.dialDtmf(digits)
    phone.wait(call, timeout=30)
    return call


# -- 1. the caller hangs up -------------------------------------------------------------


def test_caller_hangs_up_mid_call(phone, callplane, web) -> None:
    line = Line(callplane, web, '<Response><Speak loop="0">Please hold.</Speak></Response>')
    call = phone.call(line.number, callplane.sip_port)
    answered(phone, call)
    phone.poll(1.5)
    assert not call.log.disconnected  # the endless Speak is still going
    call.hangup(pj.CallOpParam())
    assert phone.wait(call, timeout=5).disconnected
    hangup = line.hangup()
    assert hangup["HangupSource"] == "Caller", hangup
    assert hangup["CallStatus"] == "completed"
    assert hangup["HangupCauseName"] == "Normal Hangup"
    record = line.record()
    assert record["answer_time"] is not None
    assert record["bill_duration"] >= 1, record


# -- 2. INVITE without SDP: offer in 200 OK, answer in ACK -----------------------------------


def test_invite_without_sdp_gets_offer_in_200_and_uses_answer_from_ack(
    callplane, web, workdir
) -> None:
    line = Line(callplane, web, "<Response><Speak>Hello there.</Speak></Response>")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp:
        rtp.bind(("127.0.0.1", 0))
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        port = rtp.getsockname()[1]
        result = sipp(
            workdir, "uac_late_offer.xml", callplane.sip_port, to=line.number, rtp_port=port
        )
        assert result.returncode == 0, result.output
        rtp.setblocking(False)
        packets = []
        while True:
            try:
                packets.append(rtp.recv(2048))
            except BlockingIOError:
                break
    payload_types = {p[1] & 0x7F for p in packets if len(p) >= 12 and p[0] >> 6 == 2}
    # The Speak reached the address of the ACK's answer, in the one codec it accepted.
    assert len(packets) >= 25, f"{len(packets)} RTP packets at the ACK's address"
    assert payload_types == {0}, payload_types
    hangup = line.hangup()
    assert hangup["CallStatus"] == "completed"
    assert hangup["HangupCauseName"] == "End Of XML Instructions"
    assert line.record()["answer_time"] is not None


# -- 3. PreAnswer: 183 with SDP, then refused ----------------------------------------------


def test_pre_answer_plays_early_media_then_hangup_busy_refuses_486(callplane, web, workdir) -> None:
    document = (
        '<Response><PreAnswer><Speak>Early</Speak></PreAnswer><Hangup reason="busy"/></Response>'
    )
    line = Line(callplane, web, document)
    result = sipp(workdir, "uac_early_media.xml", callplane.sip_port, to=line.number, code=486)
    assert result.returncode == 0, result.output
    assert "SIP/2.0 183 Session Progress" in result.output
    record = line.record()
    assert record["sip_response_code"] == 486, (record, result.output)
    assert "SIP/2.0 486" in result.output
    assert record["answer_time"] is None and record["bill_duration"] == 0
    assert line.hangup()["CallStatus"] == "busy"


def test_pre_answer_early_media_then_answered_speak(callplane, web, workdir) -> None:
    """The early-media half of PreAnswer on its own: 183 + SDP first, answered afterwards."""
    document = "<Response><PreAnswer><Speak>Early</Speak></PreAnswer><Speak>Now.</Speak></Response>"
    line = Line(callplane, web, document)
    result = sipp(workdir, "uac_early_media.xml", callplane.sip_port, to=line.number, code=486)
    assert result.returncode == 0, result.output
    early = result.output.index("SIP/2.0 183 Session Progress")
    assert early < result.output.index("SIP/2.0 200 OK")
    record = line.record()
    assert record["answer_time"] is not None and record["sip_response_code"] == 200


# -- 4. DTMF by SIP INFO --------------------------------------------------------------------


def test_sip_info_digits_during_the_prompt_reach_get_input(phone, callplane, web) -> None:
    line = Line(callplane, web)
    action = line.url("action")
    line.serve(
        f'<Response><GetInput action="{action}" inputType="dtmf" numDigits="2" '
        f'executionTimeout="5"><Speak>Enter two digits.</Speak></GetInput></Response>'
    )
    _digits_call(phone, callplane, line, "47")
    requests = web.wait_for(line.path("action"), timeout=10)
    assert requests[0].params["Digits"] == "47"


def test_sip_info_digits_reach_get_input_without_prompt(phone, callplane, web) -> None:
    line = Line(callplane, web)
    action = line.url("action")
    line.serve(
        f'<Response><GetInput action="{action}" inputType="dtmf" numDigits="2" '
        f'executionTimeout="5"/></Response>'
    )
    _digits_call(phone, callplane, line, "47")
    requests = web.wait_for(line.path("action"), timeout=10)
    assert requests[0].params["Digits"] == "47"
    assert requests[0].params["InputType"] == "dtmf"


# -- 5. GetInput details ---------------------------------------------------------------------


def test_get_input_finish_on_key_ends_input_without_the_key(phone, callplane, web) -> None:
    line = Line(callplane, web)
    action = line.url("action")
    line.serve(
        f'<Response><GetInput action="{action}" finishOnKey="#" digitEndTimeout="10" '
        f'executionTimeout="60"><Speak>Code then hash.</Speak></GetInput></Response>'
    )
    started = time.monotonic()
    _digits_call(phone, callplane, line, "12#", info=False)  # RFC 4733 this time
    params = web.wait_for(line.path("action"), timeout=10)[0].params
    assert params["Digits"] == "12"
    assert params["FinishedOnKey"] == "#"
    assert time.monotonic() - started < 10  # the '#' ended it, not digitEndTimeout (10 s)


def test_get_digits_ignores_keys_outside_valid_digits(phone, callplane, web) -> None:
    line = Line(callplane, web)
    action = line.url("action")
    line.serve(
        f'<Response><GetDigits action="{action}" validDigits="123" numDigits="2" '
        f'timeout="5" digitTimeout="3"/></Response>',
    )
    _digits_call(phone, callplane, line, "412")
    assert web.wait_for(line.path("action"), timeout=10)[0].params["Digits"] == "12"


def test_get_input_without_input_goes_on_to_the_next_verb(phone, callplane, web) -> None:
    line = Line(callplane, web)
    action = line.url("action")
    after = line.url("after")
    line.serve(
        f'<Response><GetInput action="{action}" executionTimeout="5">'
        f"<Speak>Press something.</Speak></GetInput><Redirect>{after}</Redirect></Response>",
    )
    call = phone.call(line.number, callplane.sip_port)
    phone.wait(call, timeout=30)
    assert call.log.disconnected
    assert web.wait_for(line.path("after"), timeout=10)
    assert web.seen(line.path("action")) == []
    assert line.hangup()["HangupCauseName"] == "Normal Hangup"


def test_get_input_redirect_false_notifies_action_and_runs_following_verbs(
    phone, callplane, web
) -> None:
    line = Line(callplane, web)
    never = line.url("never")
    action = line.url("action", f"<Response><Redirect>{never}</Redirect></Response>")
    after = line.url("after")
    line.serve(
        f'<Response><GetInput action="{action}" redirect="false" numDigits="1" '
        f'executionTimeout="5"><Speak>Press one.</Speak></GetInput>'
        f"<Redirect>{after}</Redirect></Response>",
    )
    _digits_call(phone, callplane, line, "1")
    assert web.wait_for(line.path("action"), timeout=10)[0].params["Digits"] == "1"
    assert web.wait_for(line.path("after"), timeout=10)
    assert web.seen(line.path("never")) == []  # the action's answer was not followed


# -- 6. Wait silence -------------------------------------------------------------------------


def _tone(path: Path, seconds: float) -> Path:
    t = np.arange(int(8000 * seconds)) / 8000
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes())
    return path


def _wait_then_redirect(
    phone: UserAgent, callplane: CallplaneServer, web: WebhookServer, length: int, **call_kw
) -> float:
    """Seconds from answer to the Redirect after ``<Wait silence="true">``."""
    line = Line(callplane, web)
    after = line.url("after")
    line.serve(
        f'<Response><Wait length="{length}" silence="true" minSilence="1000"/>'
        f"<Redirect>{after}</Redirect></Response>",
    )
    call = phone.call(line.number, callplane.sip_port, **call_kw)
    start = answered(phone, call)
    redirected = until(phone, lambda: web.seen(line.path("after")), length + 3)
    phone.wait(call, timeout=3)
    return redirected - start


def test_wait_silence_ends_once_the_caller_is_quiet(phone, callplane, web) -> None:
    elapsed = _wait_then_redirect(phone, callplane, web, 10)
    assert 0.8 <= elapsed <= 4.0, elapsed  # about minSilence, well before length=10


def test_wait_silence_lasts_while_the_caller_talks(phone, callplane, web, tmp_path) -> None:
    """The control for the test above: a caller playing a tone is not silence."""
    elapsed = _wait_then_redirect(phone, callplane, web, 3, play=_tone(tmp_path / "t.wav", 6))
    assert 2.7 <= elapsed <= 5.0, elapsed


# -- 7. Hangup schedule ----------------------------------------------------------------------


def test_hangup_schedule_ends_the_call_during_the_next_verb(phone, callplane, web) -> None:
    line = Line(
        callplane,
        web,
        '<Response><Hangup schedule="2"/><Speak loop="0">Still talking.</Speak></Response>',
    )
    call = phone.call(line.number, callplane.sip_port)
    start = answered(phone, call)
    ended = until(phone, lambda: call.log.disconnected, 8)
    assert 1.5 <= ended - start <= 5.0, ended - start
    hangup = line.hangup()
    assert hangup["HangupSource"] == "Answer XML", hangup
    assert hangup["CallStatus"] == "completed"
    assert line.record()["bill_duration"] >= 2
