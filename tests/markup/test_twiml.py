"""TwiML documents built with the real twilio SDK, compiled to verbs."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Dial as TwilioDial
from twilio.twiml.voice_response import Gather, VoiceResponse

from callplane.errors import MarkupError
from callplane.markup import twiml
from callplane.markup.verbs import (
    Conference,
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    Dtmf,
    GetInput,
    Hangup,
    Message,
    Play,
    Record,
    Redirect,
    Reject,
    Speak,
    Wait,
)
from callplane.reject_reasons import RejectReason


def verbs_of(response: VoiceResponse) -> tuple[object, ...]:
    document = twiml.compile(str(response))
    assert document.dialect is Dialect.TWIML
    return document.verbs


def only_verb(response: VoiceResponse) -> object:
    (verb,) = verbs_of(response)
    return verb


def error_of(xml: str) -> MarkupError:
    with pytest.raises(MarkupError) as info:
        twiml.compile(xml)
    return info.value


def test_say_with_twilio_defaults() -> None:
    response = VoiceResponse()
    response.say("Hello", voice="Polly.Joanna", language="en-GB", loop=2)
    response.say("Bye")
    assert verbs_of(response) == (
        Speak("Hello", voice="Polly.Joanna", language="en-GB", loop=2),
        Speak("Bye", voice="man", language="en-US", loop=1),
    )


def test_play_and_pause() -> None:
    response = VoiceResponse()
    response.play("https://x.test/a.mp3", loop=0)
    response.pause(length=3)
    response.pause()
    assert verbs_of(response) == (Play("https://x.test/a.mp3", loop=0), Wait(3), Wait(1))


def test_play_digits_is_dtmf() -> None:
    response = VoiceResponse()
    response.play(digits="ww1234#")
    assert only_verb(response) == Dtmf("ww1234#", async_=False)


def test_play_with_both_url_and_digits_is_refused() -> None:
    error = error_of('<Response><Play digits="1">https://x.test/a.mp3</Play></Response>')
    assert (error.element, error.attribute) == ("Play", "digits")


def test_gather_maps_timeouts_and_prompts() -> None:
    gather = Gather(
        input="dtmf speech",
        action="https://x.test/g",
        method="GET",
        timeout=8,
        finish_on_key="*",
        num_digits=3,
        action_on_empty_result=True,
        speech_timeout="auto",
        language="es-ES",
        hints="yes,no",
        profanity_filter=False,
    )
    gather.say("Speak or press")
    gather.play("https://x.test/p.mp3")
    gather.pause(length=1)
    response = VoiceResponse()
    response.append(gather)
    assert only_verb(response) == GetInput(
        action="https://x.test/g",
        method="GET",
        input_type="dtmf speech",
        execution_timeout=8,
        digit_end_timeout=8,
        speech_end_timeout=None,
        finish_on_key="*",
        num_digits=3,
        action_on_empty_result=True,
        language="es-ES",
        hints="yes,no",
        profanity_filter=False,
        prompts=(Speak("Speak or press", voice="man"), Play("https://x.test/p.mp3"), Wait(1)),
    )


def test_gather_defaults_are_twilios() -> None:
    response = VoiceResponse()
    response.gather()
    verb = only_verb(response)
    assert isinstance(verb, GetInput)
    assert (verb.execution_timeout, verb.digit_end_timeout, verb.speech_end_timeout) == (5, 5, 5)
    assert (verb.input_type, verb.finish_on_key, verb.num_digits) == ("dtmf", "#", None)
    assert verb.profanity_filter and not verb.action_on_empty_result


def test_gather_speech_timeout_follows_timeout() -> None:
    response = VoiceResponse()
    response.gather(timeout=9)
    verb = only_verb(response)
    assert isinstance(verb, GetInput)
    assert verb.speech_end_timeout == 9


def test_record() -> None:
    response = VoiceResponse()
    response.record(
        action="https://x.test/r",
        method="GET",
        timeout=0,
        finish_on_key="#",
        max_length=20,
        play_beep=False,
        trim="do-not-trim",
        recording_status_callback="https://x.test/cb",
        recording_status_callback_method="GET",
        transcribe=True,
        transcribe_callback="https://x.test/t",
    )
    assert only_verb(response) == Record(
        action="https://x.test/r",
        method="GET",
        timeout=0,
        finish_on_key="#",
        max_length=20,
        play_beep=False,
        trim_silence=False,
        callback_url="https://x.test/cb",
        callback_method="GET",
        transcription_type="auto",
        transcription_url="https://x.test/t",
    )


def test_record_defaults_are_twilios() -> None:
    response = VoiceResponse()
    response.record()
    assert only_verb(response) == Record(
        timeout=5, max_length=3600, finish_on_key="1234567890*#", play_beep=True, trim_silence=True
    )


def test_dial_with_nouns() -> None:
    dial = TwilioDial(
        action="https://x.test/d",
        method="GET",
        timeout=12,
        time_limit=60,
        caller_id="+15550001",
        hangup_on_star=True,
    )
    dial.number("+15551234", send_digits="w12")
    dial.client("alice")
    dial.sip("sip:bob@example.test", username="u", password="p")
    response = VoiceResponse()
    response.append(dial)
    assert only_verb(response) == Dial(
        targets=(
            DialNumber("+15551234", send_digits="w12"),
            DialClient("alice"),
            DialSip("sip:bob@example.test", username="u", password="p"),
        ),
        action="https://x.test/d",
        method="GET",
        timeout=12,
        time_limit=60,
        caller_id="+15550001",
        hangup_on_star=True,
    )


def test_dial_bare_number_and_default_timeout() -> None:
    response = VoiceResponse()
    response.dial("+15551234")
    assert only_verb(response) == Dial(targets=(DialNumber("+15551234"),), timeout=30)


def test_dial_conference_compiles_to_conference() -> None:
    dial = TwilioDial(action="https://x.test/after", hangup_on_star=True, time_limit=600)
    dial.conference(
        "room-1",
        muted=True,
        beep="onEnter",
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        wait_url="https://x.test/hold",
        wait_method="GET",
        max_participants=10,
        record="record-from-start",
        status_callback="https://x.test/cb",
    )
    response = VoiceResponse()
    response.append(dial)
    assert only_verb(response) == Conference(
        "room-1",
        muted=True,
        enter_sound="beep:1",
        exit_sound="",
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        wait_sound="https://x.test/hold",
        wait_method="GET",
        max_members=10,
        record=True,
        callback_url="https://x.test/cb",
        action="https://x.test/after",
        hangup_on_star=True,
        time_limit=600,
    )


def test_dial_conference_defaults() -> None:
    dial = TwilioDial()
    dial.conference("room")
    response = VoiceResponse()
    response.append(dial)
    assert only_verb(response) == Conference(
        "room", enter_sound="beep:1", exit_sound="beep:1", max_members=250, time_limit=14400
    )


def test_conference_must_be_dials_only_noun() -> None:
    dial = TwilioDial()
    dial.conference("room")
    dial.number("+1555")
    response = VoiceResponse()
    response.append(dial)
    with pytest.raises(MarkupError, match="only noun"):
        twiml.compile(str(response))


def test_redirect_hangup_and_sms() -> None:
    response = VoiceResponse()
    response.sms("Thanks", to="+1555111", from_="+1555000", status_callback="https://x.test/s")
    response.redirect("https://x.test/next", method="GET")
    assert verbs_of(response) == (
        Message("Thanks", src="+1555000", dst="+1555111", callback_url="https://x.test/s"),
        Redirect("https://x.test/next", method="GET"),
    )
    response = VoiceResponse()
    response.say("Bye")
    response.hangup()
    response.say("never")
    assert verbs_of(response) == (Speak("Bye", voice="man"), Hangup())


def test_reject_default_reason() -> None:
    response = VoiceResponse()
    response.reject()
    assert verbs_of(response) == (Reject(RejectReason.REJECTED),)


@pytest.mark.parametrize("reason", list(RejectReason))
def test_reject_accepts_every_reason(reason: RejectReason) -> None:
    response = VoiceResponse()
    response.reject(reason=reason.value)
    response.say("never")
    assert verbs_of(response) == (Reject(reason),)


def test_verbs_after_reject_are_ignored_unvalidated() -> None:
    xml = '<Response><Reject reason="busy"/><Bogus/><Say loop="x">Hi</Say></Response>'
    assert twiml.compile(xml).verbs == (Reject(RejectReason.BUSY),)


@pytest.mark.parametrize(
    ("xml", "element", "attribute", "fragment"),
    [
        ('<Gather timeout="abc"/>', "Gather", "timeout", "an integer >= 1"),
        ('<Say loop="-1">Hi</Say>', "Say", "loop", "an integer >= 0"),
        ('<Reject reason="nope"/>', "Reject", "reason", "rejected, busy, forbidden"),
        ('<Gather input="voice"/>', "Gather", "input", "dtmf, speech, dtmf speech"),
        ('<Record trim="yes"/>', "Record", "trim", "trim-silence, do-not-trim"),
        ('<Redirect method="DELETE">/x</Redirect>', "Redirect", "method", "GET, POST"),
        ('<Gather actionOnEmptyResult="1"/>', "Gather", "actionOnEmptyResult", "true, false"),
        ('<Hangup reason="busy"/>', "Hangup", "reason", "unknown attribute; allowed: none"),
        ('<Dial ringTone="us"><Number>1</Number></Dial>', "Dial", "ringTone", "unknown attribute"),
    ],
)
def test_bad_attributes_name_element_attribute_and_allowed_values(
    xml: str, element: str, attribute: str, fragment: str
) -> None:
    error = error_of(f"<Response>{xml}</Response>")
    assert (error.element, error.attribute) == (element, attribute)
    assert str(error).startswith(f"{element}@{attribute}: ")
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("xml", "element", "fragment"),
    [
        ("<Gather><Reject/></Gather>", "Reject", "cannot be nested"),
        ("<Reject><Say>Hi</Say></Reject>", "Reject", "cannot nest"),
        ("<Gather><Dial>+1555</Dial></Gather>", "Dial", "allowed: Say, Play, Pause"),
        ("<Gather><Play digits='1'/></Gather>", "Play", "not allowed inside"),
        ("<Dial><Say>Hi</Say></Dial>", "Say", "allowed: Number, Client, Sip, Conference"),
        ("<Speak>Plivo only</Speak>", "Speak", "unknown element"),
        ("<Enqueue>support</Enqueue>", "Enqueue", "unknown element"),
        ("<say>lowercase</say>", "say", "unknown element"),
        ("<Say></Say>", "Say", "required"),
        ("<Dial></Dial>", "Dial", "required"),
        ("<Redirect/>", "Redirect", "required"),
    ],
)
def test_structure_errors(xml: str, element: str, fragment: str) -> None:
    error = error_of(f"<Response>{xml}</Response>")
    assert error.element == element
    assert fragment in str(error)
