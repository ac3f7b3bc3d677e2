"""Relative URLs resolved against the URL a document came from, in every dialect."""

from __future__ import annotations

import json
from dataclasses import fields

from plivo import plivoxml as px
from twilio.twiml.voice_response import Dial as TwilioDial
from twilio.twiml.voice_response import Gather, VoiceResponse

from callplane.markup import parse_document
from callplane.markup.urls import URL_FIELDS
from callplane.markup.verbs import (
    Conference,
    Dial,
    Dialect,
    GetInput,
    Message,
    Play,
    PreAnswer,
    Record,
    Redirect,
    Verb,
)

BASE = "https://app.example.com/voice/answer?step=1"


def test_twiml_tutorial_urls_resolve_against_the_document_url() -> None:
    response = VoiceResponse()
    gather = Gather(action="/gather", method="POST", partial_result_callback="partial")
    gather.play("/sounds/menu.wav")
    gather.say("Press a key")
    response.append(gather)
    response.play("chime.wav")
    response.record(
        action="record-done",
        recording_status_callback="../recordings",
        transcribe_callback="/transcripts",
    )
    dial = TwilioDial(
        action="/dial-status", recording_status_callback="/rec", record="record-from-answer"
    )
    dial.number("+14155550100")
    response.append(dial)
    response.sms("hi", status_callback="/sms-status")
    response.redirect("/next")

    document = parse_document(str(response), base_url=BASE)

    gather_verb, play, record, dial_verb, message, redirect = document.verbs
    assert document.base_url == BASE
    assert isinstance(gather_verb, GetInput)
    assert gather_verb.action == "https://app.example.com/gather"
    assert gather_verb.interim_speech_results_callback == "https://app.example.com/voice/partial"
    assert gather_verb.prompts[0] == Play(url="https://app.example.com/sounds/menu.wav")
    assert play == Play(url="https://app.example.com/voice/chime.wav")
    assert isinstance(record, Record)
    assert record.action == "https://app.example.com/voice/record-done"
    assert record.callback_url == "https://app.example.com/recordings"
    assert record.transcription_url == "https://app.example.com/transcripts"
    assert isinstance(dial_verb, Dial)
    assert dial_verb.action == "https://app.example.com/dial-status"
    assert dial_verb.recording_callback_url == "https://app.example.com/rec"
    assert isinstance(message, Message)
    assert message.callback_url == "https://app.example.com/sms-status"
    assert redirect == Redirect(url="https://app.example.com/next")


def test_absolute_urls_and_query_only_references() -> None:
    response = VoiceResponse()
    response.play("http://cdn.example.net/a.wav")
    response.redirect("?step=2", method="GET")
    response.redirect("//other.example.org/x")
    play, step, other = parse_document(str(response), base_url=BASE).verbs
    assert play == Play(url="http://cdn.example.net/a.wav")
    assert step == Redirect(url="https://app.example.com/voice/answer?step=2", method="GET")
    assert other == Redirect(url="https://other.example.org/x")


def test_dial_conference_urls_and_beeps() -> None:
    response = VoiceResponse()
    dial = TwilioDial(action="/after")
    dial.conference("room", wait_url="/hold-music", status_callback="/conf-events", beep="true")
    response.append(dial)
    [conference] = parse_document(str(response), base_url=BASE).verbs
    assert isinstance(conference, Conference)
    assert conference.action == "https://app.example.com/after"
    assert conference.wait_sound == "https://app.example.com/hold-music"
    assert conference.callback_url == "https://app.example.com/conf-events"
    assert (conference.enter_sound, conference.exit_sound) == ("beep:1", "beep:1")


def test_plivo_xml_nested_preanswer_and_dial_sounds() -> None:
    response = px.ResponseElement()
    response.add(px.PreAnswerElement().add_play("ring.mp3").add_redirect("/early"))
    dial = px.DialElement(
        action="/dial-done",
        dial_music="real",
        confirm_sound="/confirm",
        callback_url="events",
    )
    response.add(dial.add_number("14155550100"))
    response.add_conference("room", enter_sound="beep:2", wait_sound="/wait")
    document = parse_document(response.to_string(), dialect=Dialect.PLIVO, base_url=BASE)
    pre_answer, dial_verb, conference = document.verbs
    assert isinstance(pre_answer, PreAnswer)
    assert pre_answer.verbs == (
        Play(url="https://app.example.com/voice/ring.mp3"),
        Redirect(url="https://app.example.com/early"),
    )
    assert isinstance(dial_verb, Dial)
    assert dial_verb.action == "https://app.example.com/dial-done"
    assert dial_verb.dial_music == "real"
    assert dial_verb.confirm_sound == "https://app.example.com/confirm"
    assert dial_verb.callback_url == "https://app.example.com/voice/events"
    assert isinstance(conference, Conference)
    assert (conference.enter_sound, conference.wait_sound) == (
        "beep:2",
        "https://app.example.com/wait",
    )


def test_voxml_urls_resolve_too() -> None:
    body = json.dumps(
        {
            "voxml_version": "1.0",
            "verbs": [{"verb": "Play", "url": "a.wav"}, {"verb": "Redirect", "url": "/next"}],
        }
    )
    play, redirect = parse_document(body, base_url=BASE).verbs
    assert play == Play(url="https://app.example.com/voice/a.wav")
    assert redirect == Redirect(url="https://app.example.com/next")


def test_without_a_base_url_documents_are_unchanged() -> None:
    response = VoiceResponse()
    response.redirect("/next")
    document = parse_document(str(response))
    assert document.verbs == (Redirect(url="/next"),)
    assert document.base_url == ""


def test_every_url_field_of_the_verb_model_is_resolved() -> None:
    """A URL field added to a verb but not to URL_FIELDS would stay relative."""
    verb_types: tuple[type[Verb], ...] = (
        GetInput,
        Record,
        Dial,
        Conference,
        Message,
        Play,
        Redirect,
    )
    for verb_type in verb_types:
        named = {
            f.name
            for f in fields(verb_type)
            if f.name == "url"
            or f.name.endswith(("_url", "_sound", "action", "_callback"))
            or f.name == "dial_music"
        }
        assert named <= set(URL_FIELDS[verb_type]), verb_type.__name__
