"""Plivo XML documents built with the real plivo SDK, compiled to verbs."""

from __future__ import annotations

import pytest
from plivo import plivoxml

from callplane.errors import MarkupError
from callplane.markup import plivo_xml
from callplane.markup.verbs import (
    Conference,
    Dial,
    Dialect,
    DialNumber,
    DialUser,
    Dtmf,
    GetInput,
    Hangup,
    Message,
    Play,
    PreAnswer,
    Record,
    Redirect,
    Reject,
    Speak,
    Wait,
)
from callplane.reject_reasons import RejectReason


def verbs_of(response: plivoxml.ResponseElement) -> tuple[object, ...]:
    document = plivo_xml.compile(response.to_string())
    assert document.dialect is Dialect.PLIVO
    return document.verbs


def only_verb(response: plivoxml.ResponseElement) -> object:
    (verb,) = verbs_of(response)
    return verb


def error_of(xml: str) -> MarkupError:
    with pytest.raises(MarkupError) as info:
        plivo_xml.compile(xml)
    return info.value


def test_speak_with_attributes_and_defaults() -> None:
    response = plivoxml.ResponseElement().add_speak("Hello", voice="MAN", language="en-GB", loop=3)
    response.add_speak("Bye")
    assert verbs_of(response) == (
        Speak("Hello", voice="MAN", language="en-GB", loop=3),
        Speak("Bye", voice="WOMAN", language="en-US", loop=1),
    )


def test_speak_keeps_ssml_and_plain_text() -> None:
    speak = (
        plivoxml.SpeakElement("Hello ").add_break(time="1s").add_emphasis("world", level="strong")
    )
    verb = only_verb(plivoxml.ResponseElement().add(speak))
    assert isinstance(verb, Speak)
    assert verb.text == "Hello world"
    assert "<break" in verb.ssml and "<emphasis" in verb.ssml


def test_play_and_loop_zero_means_forever() -> None:
    response = plivoxml.ResponseElement().add_play("https://x.test/a.mp3", loop=0)
    assert only_verb(response) == Play("https://x.test/a.mp3", loop=0)


def test_wait_converts_min_silence_to_seconds() -> None:
    response = plivoxml.ResponseElement().add_wait(
        length=4, silence=True, min_silence=500, beep=True
    )
    assert only_verb(response) == Wait(length=4, silence=True, min_silence=0.5, beep=True)


def test_wait_defaults() -> None:
    assert only_verb(plivoxml.ResponseElement().add_wait()) == Wait(1, False, 2.0, False)


def test_get_input_with_prompts() -> None:
    get_input = plivoxml.GetInputElement(
        action="https://x.test/in",
        method="GET",
        input_type="dtmf speech",
        execution_timeout=20,
        digit_end_timeout=3,
        speech_end_timeout=4,
        finish_on_key="*",
        num_digits=4,
        hints="sales,support",
        language="en-GB",
        log=False,
        redirect=False,
        profanity_filter=True,
    )
    get_input.add_speak("Press a key").add_play("https://x.test/p.mp3").add_wait(length=2)
    verb = only_verb(plivoxml.ResponseElement().add(get_input))
    assert verb == GetInput(
        action="https://x.test/in",
        method="GET",
        input_type="dtmf speech",
        execution_timeout=20,
        digit_end_timeout=3,
        speech_end_timeout=4,
        finish_on_key="*",
        num_digits=4,
        hints="sales,support",
        language="en-GB",
        log=False,
        redirect=False,
        profanity_filter=True,
        prompts=(Speak("Press a key"), Play("https://x.test/p.mp3"), Wait(length=2)),
    )


def test_get_input_defaults_are_plivos() -> None:
    verb = only_verb(plivoxml.ResponseElement().add_get_input(action="https://x.test/in"))
    assert isinstance(verb, GetInput)
    assert (verb.execution_timeout, verb.finish_on_key, verb.method) == (15, "#", "POST")
    assert verb.digit_end_timeout is None and verb.speech_end_timeout is None  # auto
    assert verb.redirect and verb.log and not verb.profanity_filter


def test_get_input_auto_timeouts() -> None:
    xml = '<Response><GetInput digitEndTimeout="auto" speechEndTimeout="7"/></Response>'
    (verb,) = plivo_xml.compile(xml).verbs
    assert isinstance(verb, GetInput)
    assert (verb.digit_end_timeout, verb.speech_end_timeout) == (None, 7)


def test_get_digits_maps_onto_get_input() -> None:
    get_digits = plivoxml.GetDigitsElement(
        action="https://x.test/d",
        timeout=7,
        digit_timeout=3,
        num_digits=4,
        retries=2,
        play_beep=True,
        valid_digits="123",
        invalid_digits_sound="https://x.test/bad.mp3",
    )
    get_digits.add_speak("Enter your PIN")
    verb = only_verb(plivoxml.ResponseElement().add(get_digits))
    assert verb == GetInput(
        action="https://x.test/d",
        input_type="dtmf",
        execution_timeout=7,
        digit_end_timeout=3,
        num_digits=4,
        retries=2,
        play_beep=True,
        valid_digits="123",
        invalid_digits_sound="https://x.test/bad.mp3",
        prompts=(Speak("Enter your PIN"),),
    )


def test_get_digits_defaults() -> None:
    verb = only_verb(plivoxml.ResponseElement().add_get_digits())
    assert isinstance(verb, GetInput)
    assert (verb.execution_timeout, verb.digit_end_timeout, verb.num_digits) == (5, 2, 99)


def test_record() -> None:
    response = plivoxml.ResponseElement().add_record(
        action="https://x.test/r",
        file_format="wav",
        max_length=30,
        timeout=5,
        play_beep=False,
        finish_on_key="*",
        record_session=True,
        callback_url="https://x.test/cb",
        callback_method="GET",
        transcription_type="auto",
        transcription_url="https://x.test/t",
    )
    assert only_verb(response) == Record(
        action="https://x.test/r",
        file_format="wav",
        max_length=30,
        timeout=5,
        play_beep=False,
        finish_on_key="*",
        record_session=True,
        callback_url="https://x.test/cb",
        callback_method="GET",
        transcription_type="auto",
        transcription_url="https://x.test/t",
    )


def test_record_defaults() -> None:
    verb = only_verb(plivoxml.ResponseElement().add_record())
    assert verb == Record(file_format="mp3", max_length=60, timeout=15, play_beep=True)


def test_dial_with_number_and_user() -> None:
    dial = plivoxml.DialElement(
        action="https://x.test/dial",
        timeout=20,
        time_limit=600,
        caller_id="+15550001",
        caller_name="Shop",
        hangup_on_star=True,
        confirm_sound="https://x.test/c",
        confirm_key="5",
        dial_music="real",
        callback_url="https://x.test/cb",
        redirect=False,
        digits_match="123",
        digits_match_b_leg="9",
        sip_headers="Team=sales,Tier=gold",
    )
    dial.add_number("+15551234", send_digits="wwww1234", send_on_preanswer=True)
    dial.add_user("sip:alice@example.test", sip_headers="Agent=7")
    verb = only_verb(plivoxml.ResponseElement().add(dial))
    assert verb == Dial(
        targets=(
            DialNumber("+15551234", send_digits="wwww1234", send_on_preanswer=True),
            DialUser("sip:alice@example.test", sip_headers={"Agent": "7"}),
        ),
        action="https://x.test/dial",
        timeout=20,
        time_limit=600,
        caller_id="+15550001",
        caller_name="Shop",
        hangup_on_star=True,
        confirm_sound="https://x.test/c",
        confirm_key="5",
        dial_music="real",
        callback_url="https://x.test/cb",
        redirect=False,
        digits_match="123",
        digits_match_b_leg="9",
        sip_headers={"Team": "sales", "Tier": "gold"},
    )


def test_dial_defaults_and_needs_a_target() -> None:
    dial = plivoxml.DialElement().add_number("+15551234")
    verb = only_verb(plivoxml.ResponseElement().add(dial))
    assert isinstance(verb, Dial)
    assert (verb.timeout, verb.time_limit, verb.redirect) == (None, 14400, True)
    error = error_of("<Response><Dial/></Response>")
    assert error.element == "Dial"


def test_redirect() -> None:
    response = plivoxml.ResponseElement().add_redirect("https://x.test/next", method="GET")
    assert only_verb(response) == Redirect("https://x.test/next", method="GET")


def test_pre_answer() -> None:
    pre_answer = plivoxml.PreAnswerElement().add_speak("Early").add_play("https://x.test/r.mp3")
    pre_answer.add_wait(length=2)
    response = plivoxml.ResponseElement().add(pre_answer).add_speak("Answered")
    assert verbs_of(response) == (
        PreAnswer(verbs=(Speak("Early"), Play("https://x.test/r.mp3"), Wait(length=2))),
        Speak("Answered"),
    )


def test_conference() -> None:
    response = plivoxml.ResponseElement().add_conference(
        "room-1",
        muted=True,
        enter_sound="beep:1",
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        max_members=10,
        record=True,
        time_limit=300,
        action="https://x.test/conf",
        relay_dtmf=False,
    )
    assert only_verb(response) == Conference(
        "room-1",
        muted=True,
        enter_sound="beep:1",
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        max_members=10,
        record=True,
        time_limit=300,
        action="https://x.test/conf",
        relay_dtmf=False,
    )


def test_conference_defaults() -> None:
    verb = only_verb(plivoxml.ResponseElement().add_conference("room"))
    assert verb == Conference("room", max_members=20, time_limit=86400, stay_alone=True)


def test_dtmf_and_message() -> None:
    response = plivoxml.ResponseElement().add_dtmf("12w34", async_=False)
    response.add_message("Thanks", src="+1555000", dst="+1555111", callback_url="https://x.test")
    assert verbs_of(response) == (
        Dtmf("12w34", async_=False),
        Message("Thanks", src="+1555000", dst="+1555111", callback_url="https://x.test"),
    )


def test_hangup_first_refuses_the_call_as_rejected() -> None:
    response = plivoxml.ResponseElement().add_hangup().add_speak("never")
    assert verbs_of(response) == (Reject(RejectReason.REJECTED),)


def test_hangup_first_with_busy_reason() -> None:
    response = plivoxml.ResponseElement().add_hangup(reason="busy")
    assert verbs_of(response) == (Reject(RejectReason.BUSY),)


@pytest.mark.parametrize("reason", list(RejectReason))
def test_hangup_first_accepts_every_reject_reason(reason: RejectReason) -> None:
    response = plivoxml.ResponseElement().add_hangup(reason=reason.value)
    assert verbs_of(response) == (Reject(reason),)


def test_hangup_not_first_is_a_hangup_and_ends_the_document() -> None:
    response = plivoxml.ResponseElement().add_speak("Bye").add_hangup().add_speak("never")
    assert verbs_of(response) == (Speak("Bye"), Hangup())


def test_scheduled_hangup_does_not_end_the_document() -> None:
    response = plivoxml.ResponseElement().add_hangup(schedule=30).add_speak("Still here")
    assert verbs_of(response) == (Hangup(schedule=30), Speak("Still here"))


def test_elements_after_hangup_are_ignored_even_when_invalid() -> None:
    xml = '<Response><Speak>Bye</Speak><Hangup/><Bogus/><Wait length="x"/></Response>'
    assert plivo_xml.compile(xml).verbs == (Speak("Bye"), Hangup())
    xml = '<Response><Hangup reason="busy"/><Bogus/></Response>'
    assert plivo_xml.compile(xml).verbs == (Reject(RejectReason.BUSY),)


@pytest.mark.parametrize(
    ("xml", "element", "attribute", "fragment"),
    [
        ('<Wait length="abc"/>', "Wait", "length", "an integer >= 1"),
        ('<Play loop="-1">https://x.test/a.mp3</Play>', "Play", "loop", "an integer >= 0"),
        ('<Redirect method="PUT">https://x.test</Redirect>', "Redirect", "method", "GET, POST"),
        ('<Record playBeep="yes"/>', "Record", "playBeep", "true, false"),
        ('<Speak loop="1.5">Hi</Speak>', "Speak", "loop", "an integer >= 0"),
        ('<GetInput executionTimeout="99"/>', "GetInput", "executionTimeout", "5 to 60"),
        ('<GetInput inputType="voice"/>', "GetInput", "inputType", "dtmf, speech, dtmf speech"),
        ('<GetInput finishOnKey="12"/>', "GetInput", "finishOnKey", "one of"),
        ('<Record fileFormat="ogg"/>', "Record", "fileFormat", "mp3, wav"),
        ('<Speak colour="red">Hi</Speak>', "Speak", "colour", "unknown attribute"),
        ('<Dial sipHeaders="novalue"><Number>1</Number></Dial>', "Dial", "sipHeaders", "name="),
        ('<Speak>Hi</Speak><Hangup reason="gone"/>', "Hangup", "reason", "rejected, busy"),
    ],
)
def test_bad_attributes_name_element_attribute_and_allowed_values(
    xml: str, element: str, attribute: str, fragment: str
) -> None:
    error = error_of(f"<Response>{xml}</Response>")
    assert (error.element, error.attribute) == (element, attribute)
    assert str(error).startswith(f"{element}@{attribute}: ")
    assert fragment in str(error)


def test_bad_reject_reason_lists_all_reasons() -> None:
    error = error_of('<Response><Hangup reason="nope"/></Response>')
    for reason in RejectReason:
        assert reason.value in error.detail


@pytest.mark.parametrize(
    ("xml", "element"),
    [
        ("<GetInput><Dial><Number>1</Number></Dial></GetInput>", "Dial"),
        ("<GetDigits><Record/></GetDigits>", "Record"),
        ("<PreAnswer><Dial><Number>1</Number></Dial></PreAnswer>", "Dial"),
        ("<Dial><Speak>Hi</Speak></Dial>", "Speak"),
        ("<Number>+1555</Number>", "Number"),
        ("<Wait><Speak>Hi</Speak></Wait>", "Speak"),
        ("<GetInput><Reject/></GetInput>", "Reject"),
        ("<Speak>Hi <bogus/></Speak>", "bogus"),
        ("<speak>lowercase</speak>", "speak"),
        ("<AudioStream>wss://x.test</AudioStream>", "AudioStream"),
    ],
)
def test_nesting_and_unknown_elements_are_refused(xml: str, element: str) -> None:
    error = error_of(f"<Response>{xml}</Response>")
    assert error.element == element
    assert "allowed" in str(error) or "nested" in str(error)


def test_nested_reject_says_it_cannot_be_nested() -> None:
    assert "cannot be nested" in str(
        error_of("<Response><GetInput><Reject/></GetInput></Response>")
    )


@pytest.mark.parametrize(
    ("xml", "element"),
    [
        ("<Speak></Speak>", "Speak"),
        ("<Speak>   </Speak>", "Speak"),
        ("<Play/>", "Play"),
        ("<Redirect> </Redirect>", "Redirect"),
        ("<Conference/>", "Conference"),
        ("<DTMF/>", "DTMF"),
        ("<Dial><Number/></Dial>", "Number"),
    ],
)
def test_required_text_content(xml: str, element: str) -> None:
    error = error_of(f"<Response>{xml}</Response>")
    assert error.element == element
    assert "required" in str(error)


def test_root_must_be_response() -> None:
    assert error_of("<Document><Speak>Hi</Speak></Document>").element == "Document"
    assert error_of('<Response foo="1"/>').attribute == "foo"


def test_empty_response_has_no_verbs() -> None:
    assert plivo_xml.compile("<Response/>").verbs == ()
