"""Dial's attributes in the three dialects: Plivo XML built with the plivo SDK, TwiML with
the twilio SDK, VoXML as JSON; each compiles to the same ``Dial`` fields."""

from __future__ import annotations

import json

import pytest
from plivo import plivoxml
from twilio.twiml.voice_response import Dial as TwilioDial
from twilio.twiml.voice_response import VoiceResponse

from callplane.errors import MarkupError
from callplane.markup import plivo_xml, twiml, voxml
from callplane.markup.verbs import Dial, DialNumber, DialUser


def test_plivo_dial_compiles_every_attribute_and_noun_option() -> None:
    dial = plivoxml.DialElement(
        action="https://example.com/dial",
        method="GET",
        hangup_on_star=True,
        time_limit=60,
        timeout=20,
        caller_id="15550001111",
        caller_name="Front desk",
        confirm_sound="https://example.com/confirm",
        confirm_key="5",
        dial_music="real",
        callback_url="https://example.com/events",
        callback_method="GET",
        digits_match="12,99",
        digits_match_b_leg="*0",
        sip_headers="Campaign=spring,Tier=gold",
        redirect=False,
    )
    dial.add(plivoxml.NumberElement("15557654321", send_digits="1w2W", send_on_preanswer=True))
    dial.add(plivoxml.UserElement("sip:bob@example.com", sip_headers="Agent=7", send_digits="9"))
    response = plivoxml.ResponseElement().add(dial)
    (verb,) = plivo_xml.compile(response.to_string()).verbs
    assert isinstance(verb, Dial)
    assert verb.hangup_on_star and not verb.redirect and verb.method == "GET"
    assert (verb.time_limit, verb.timeout, verb.confirm_key) == (60, 20, "5")
    assert verb.dial_music == "real" and verb.callback_method == "GET"
    assert (verb.digits_match, verb.digits_match_b_leg) == ("12,99", "*0")
    assert verb.sip_headers == {"Campaign": "spring", "Tier": "gold"}
    assert verb.targets == (
        DialNumber("15557654321", send_digits="1w2W", send_on_preanswer=True),
        DialUser("sip:bob@example.com", send_digits="9", sip_headers={"Agent": "7"}),
    )


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("sipHeaders", "no-equals-sign"), ("confirmKey", "12"), ("method", "PUT")],
)
def test_plivo_dial_bad_values_name_the_attribute(attribute: str, value: str) -> None:
    document = f'<Response><Dial {attribute}="{value}"><Number>1555</Number></Dial></Response>'
    with pytest.raises(MarkupError) as raised:
        plivo_xml.compile(document)
    assert attribute in str(raised.value) and "Dial" in str(raised.value)


@pytest.mark.parametrize(
    ("mode", "recorded"),
    [
        ("record-from-answer", True),
        ("record-from-ringing-dual", True),
        ("do-not-record", False),
    ],
)
def test_twiml_dial_record_modes(mode: str, recorded: bool) -> None:
    response = VoiceResponse()
    dial = TwilioDial(
        record=mode,
        recording_status_callback="https://example.com/rec",
        recording_status_callback_method="GET",
        hangup_on_star=True,
    )
    dial.number("+15557654321", send_digits="ww1")
    response.append(dial)
    (verb,) = twiml.compile(str(response)).verbs
    assert isinstance(verb, Dial)
    assert verb.record is recorded and verb.hangup_on_star
    assert verb.recording_callback_url == "https://example.com/rec"
    assert verb.recording_callback_method == "GET"
    assert verb.targets == (DialNumber("+15557654321", send_digits="ww1"),)


def test_twiml_dial_record_rejects_an_unknown_mode() -> None:
    with pytest.raises(MarkupError) as raised:
        twiml.compile('<Response><Dial record="always">+1555</Dial></Response>')
    assert "record" in str(raised.value)


def test_voxml_dial_has_the_same_fields() -> None:
    document = {
        "voxml_version": "1.0",
        "verbs": [
            {
                "verb": "Dial",
                "confirm_key": "#",
                "confirm_timeout": 10,
                "sip_headers": {"Campaign": "spring"},
                "record": True,
                "recording_callback_url": "https://example.com/rec",
                "targets": [
                    {"type": "user", "uri": "sip:bob@example.com", "send_digits": "1"},
                ],
            }
        ],
    }
    (verb,) = voxml.compile(json.dumps(document)).verbs
    assert isinstance(verb, Dial)
    assert (verb.confirm_key, verb.confirm_timeout, verb.record) == ("#", 10, True)
    assert verb.sip_headers == {"Campaign": "spring"}
    assert verb.targets == (DialUser("sip:bob@example.com", send_digits="1"),)
