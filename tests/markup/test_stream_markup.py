"""<Stream>: Plivo XML as Plivo documents it, TwiML built with the twilio SDK."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Connect, Start, Stop, VoiceResponse

from callplane.errors import MarkupError
from callplane.markup import parse_document, plivo_xml, twiml
from callplane.markup.verbs import Dialect, Speak, StopStream, Stream

AGENT = "wss://agent.example.com/voice"


def plivo(inner: str) -> tuple[object, ...]:
    return plivo_xml.compile(f"<Response>{inner}</Response>").verbs


def test_plivo_stream_defaults_are_plivos() -> None:
    (verb,) = plivo(f"<Stream>{AGENT}</Stream>")

    assert verb == Stream(AGENT)
    assert isinstance(verb, Stream)
    assert (verb.bidirectional, verb.blocking, verb.audio_track) == (False, False, "inbound")
    assert verb.content_type == "audio/x-l16;rate=8000" and verb.stream_timeout == 86400


def test_plivo_stream_attributes() -> None:
    (verb,) = plivo(
        '<Stream bidirectional="true" keepCallAlive="true" audioTrack="both"'
        ' streamTimeout="120" contentType="audio/x-mulaw;rate=8000"'
        ' statusCallbackUrl="https://app.example.com/s" statusCallbackMethod="GET"'
        f' extraHeaders="tenant=acme,lang=fr">{AGENT}</Stream>'
    )

    assert verb == Stream(
        AGENT,
        bidirectional=True,
        blocking=True,
        audio_track="both",
        stream_timeout=120,
        content_type="audio/x-mulaw;rate=8000",
        status_callback_url="https://app.example.com/s",
        status_callback_method="GET",
        extra_headers={"tenant": "acme", "lang": "fr"},
    )


@pytest.mark.parametrize(
    ("inner", "culprit"),
    [
        ('<Stream audioTrack="caller">wss://a.example.com</Stream>', "audioTrack"),
        (
            '<Stream contentType="audio/x-l16;rate=44100">wss://a.example.com</Stream>',
            "contentType",
        ),
        ('<Stream streamTimeout="0">wss://a.example.com</Stream>', "streamTimeout"),
        ('<Stream bidirectional="yes">wss://a.example.com</Stream>', "bidirectional"),
        ('<Stream track="inbound">wss://a.example.com</Stream>', "track"),
        ("<Stream>https://a.example.com</Stream>", None),
        ("<Stream></Stream>", None),
    ],
)
def test_plivo_stream_refuses_bad_attributes_by_name(inner: str, culprit: str | None) -> None:
    with pytest.raises(MarkupError) as info:
        plivo(inner)
    assert info.value.element == "Stream" and info.value.attribute == culprit


def test_a_plivo_stream_document_is_detected_as_plivo() -> None:
    document = parse_document(f"<Response><Stream>{AGENT}</Stream></Response>")
    assert document.dialect is Dialect.PLIVO


def test_twiml_connect_stream_is_a_blocking_two_way_mulaw_stream() -> None:
    response = VoiceResponse()
    connect = Connect(action="https://app.example.com/after", method="GET")
    stream = connect.stream(url=AGENT, name="agent", status_callback="https://app.example.com/s")
    stream.parameter(name="customer", value="42")
    stream.parameter(name="lang", value="fr")
    response.append(connect)
    response.say("The agent hung up")

    document = parse_document(str(response))

    assert document.dialect is Dialect.TWIML
    verb, after = document.verbs
    assert verb == Stream(
        AGENT,
        protocol="twilio",
        bidirectional=True,
        blocking=True,
        content_type="audio/x-mulaw;rate=8000",
        name="agent",
        status_callback_url="https://app.example.com/s",
        parameters={"customer": "42", "lang": "fr"},
        action="https://app.example.com/after",
        method="GET",
    )
    assert isinstance(after, Speak)


def test_twiml_start_and_stop_stream() -> None:
    response = VoiceResponse()
    start = Start()
    start.stream(url=AGENT, name="fork", track="both_tracks")
    response.append(start)
    response.say("recording for quality")
    stop = Stop()
    stop.stream(name="fork")
    response.append(stop)

    fork, _, stopped = twiml.compile(str(response)).verbs

    assert fork == Stream(
        AGENT,
        protocol="twilio",
        audio_track="both",
        name="fork",
        content_type="audio/x-mulaw;rate=8000",
    )
    assert stopped == StopStream("fork")


@pytest.mark.parametrize(
    ("xml", "element", "attribute"),
    [
        ("<Connect><Stream/></Connect>", "Stream", "url"),
        ("<Connect><Stream url='https://x.example.com'/></Connect>", "Stream", "url"),
        (
            "<Connect><Stream url='wss://x.example.com' track='both_tracks'/></Connect>",
            "Stream",
            "track",
        ),
        ("<Connect></Connect>", "Connect", None),
        ("<Connect><Say>x</Say></Connect>", "Connect", None),
        ("<Start><Stream url='wss://x.example.com'><Say>x</Say></Stream></Start>", "Say", None),
        (
            "<Start><Stream url='wss://x.example.com'><Parameter value='v'/></Stream></Start>",
            "Parameter",
            "name",
        ),
    ],
)
def test_twiml_stream_mistakes_name_the_culprit(
    xml: str, element: str, attribute: str | None
) -> None:
    with pytest.raises(MarkupError) as info:
        twiml.compile(f"<Response>{xml}</Response>")
    assert (info.value.element, info.value.attribute) == (element, attribute)
