"""VoXML (JSON) documents compiled to verbs."""

from __future__ import annotations

import json

import pytest

from callplane.errors import MarkupError
from callplane.markup import voxml
from callplane.markup.verbs import (
    Conference,
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    DialUser,
    GetInput,
    Hangup,
    Play,
    Record,
    Redirect,
    Reject,
    Speak,
    Wait,
)
from callplane.reject_reasons import RejectReason


def compile_verbs(*verbs: dict[str, object]) -> tuple[object, ...]:
    document = voxml.compile(json.dumps({"voxml_version": "1.0", "verbs": list(verbs)}))
    assert document.dialect is Dialect.VOXML
    return document.verbs


def error_of(body: str | dict[str, object]) -> MarkupError:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(MarkupError) as info:
        voxml.compile(text)
    return info.value


def test_simple_verbs() -> None:
    assert compile_verbs(
        {"verb": "Say", "text": "Hello", "voice": "MAN", "language": "fr-FR", "loop": 2},
        {"verb": "Play", "url": "https://x.test/a.mp3", "loop": 0},
        {"verb": "Pause", "length": 3},
        {"verb": "Record", "action": "https://x.test/r", "max_length": 30, "play_beep": False},
        {"verb": "Conference", "name": "room", "muted": True, "max_members": 5},
        {"verb": "Redirect", "url": "https://x.test/next", "method": "GET"},
    ) == (
        Speak("Hello", voice="MAN", language="fr-FR", loop=2),
        Play("https://x.test/a.mp3", loop=0),
        Wait(3),
        Record(action="https://x.test/r", max_length=30, play_beep=False),
        Conference("room", muted=True, max_members=5),
        Redirect("https://x.test/next", method="GET"),
    )


def test_gather_with_prompts() -> None:
    (verb,) = compile_verbs(
        {
            "verb": "Gather",
            "action": "https://x.test/g",
            "input": "dtmf speech",
            "timeout": 7,
            "speech_timeout": "auto",
            "num_digits": 2,
            "prompts": [{"verb": "Say", "text": "Press"}, {"verb": "Pause"}],
        }
    )
    assert verb == GetInput(
        action="https://x.test/g",
        input_type="dtmf speech",
        execution_timeout=7,
        digit_end_timeout=7,
        speech_end_timeout=None,
        num_digits=2,
        prompts=(Speak("Press"), Wait()),
    )


def test_dial_targets() -> None:
    (verb,) = compile_verbs(
        {
            "verb": "Dial",
            "timeout": 20,
            "sip_headers": {"Team": "sales"},
            "targets": [
                {"type": "number", "number": "+15551234", "send_digits": "w1"},
                {"type": "user", "uri": "sip:alice@x.test", "sip_headers": {"A": "1"}},
                {"type": "sip", "uri": "sip:bob@x.test", "username": "u", "password": "p"},
                {"type": "client", "identity": "carol"},
            ],
        }
    )
    assert verb == Dial(
        targets=(
            DialNumber("+15551234", send_digits="w1"),
            DialUser("sip:alice@x.test", sip_headers={"A": "1"}),
            DialSip("sip:bob@x.test", username="u", password="p"),
            DialClient("carol"),
        ),
        timeout=20,
        sip_headers={"Team": "sales"},
    )


@pytest.mark.parametrize("reason", list(RejectReason))
def test_reject_every_reason(reason: RejectReason) -> None:
    verbs = compile_verbs({"verb": "Reject", "reason": reason.value}, {"verb": "Say", "text": "x"})
    assert verbs == (Reject(reason),)


def test_reject_default_and_hangup() -> None:
    assert compile_verbs({"verb": "Reject"}) == (Reject(RejectReason.REJECTED),)
    verbs = compile_verbs({"verb": "Hangup", "reason": "completed"}, {"verb": "Bogus"})
    assert verbs == (Hangup(reason="completed"),)


def test_instructions_alias() -> None:
    body = {"voxml_version": "1.0", "instructions": [{"verb": "Hangup"}]}
    assert voxml.compile(json.dumps(body)).verbs == (Hangup(),)


def test_errors_name_instructions_among_the_allowed_keys() -> None:
    """A document written with TryVox's ``instructions`` is told that key is fine."""
    with pytest.raises(MarkupError) as extra:
        voxml.compile('{"voxml_version": "1.0", "instructions": [], "extra": 1}')
    assert "allowed: voxml_version, verbs, instructions" in str(extra.value)
    with pytest.raises(MarkupError) as not_a_list:
        voxml.compile('{"voxml_version": "1.0", "instructions": {"verb": "Hangup"}}')
    assert "instructions" in str(not_a_list.value)
    assert "(verbs or instructions)" in str(not_a_list.value)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"verbs": []}', "voxml_version"),
        ('{"voxml_version": "2.0", "verbs": []}', "voxml_version"),
        ('{"voxml_version": "1.0"}', "verbs"),
        ('{"voxml_version": "1.0", "verbs": {}}', "verbs"),
        ('{"voxml_version": "1.0", "verbs": [], "extra": 1}', "extra"),
        ('{"voxml_version": "1.0", "verbs": [], "instructions": []}', "not both"),
        ('{"voxml_version": "1.0", "verbs": ["Say"]}', "JSON object"),
        (b'{"voxml_version": "1.0", "verbs": "\xff"}', "invalid JSON"),
        ("[" * 100_000, "invalid JSON"),
    ],
)
def test_invalid_documents(body: str | bytes, fragment: str) -> None:
    with pytest.raises(MarkupError, match=fragment):
        voxml.compile(body)


@pytest.mark.parametrize(
    ("verb", "element", "attribute", "fragment"),
    [
        ({"verb": "Say"}, "Say", "text", "required"),
        ({"verb": "Say", "text": ""}, "Say", "text", "non-empty"),
        ({"verb": "Say", "text": "x", "loop": -1}, "Say", "loop", "an integer >= 0"),
        ({"verb": "Say", "text": "x", "loop": True}, "Say", "loop", "an integer"),
        ({"verb": "Play", "url": 5}, "Play", "url", "a string"),
        ({"verb": "Pause", "length": "long"}, "Pause", "length", "an integer"),
        ({"verb": "Record", "play_beep": "yes"}, "Record", "play_beep", "true, false"),
        ({"verb": "Redirect", "url": "/x", "method": "PUT"}, "Redirect", "method", "GET, POST"),
        ({"verb": "Reject", "reason": "nope"}, "Reject", "reason", "busy"),
        ({"verb": "Say", "text": "x", "colour": "red"}, "Say", "colour", "unknown attribute"),
        ({"verb": "Dial", "targets": []}, "Dial", "targets", "at least one"),
        ({"verb": "Dial"}, "Dial", "targets", "list"),
        ({"verb": "Dial", "targets": [{"type": "number"}]}, "number", "number", "required"),
    ],
)
def test_bad_values_name_verb_and_key(
    verb: dict[str, object], element: str, attribute: str, fragment: str
) -> None:
    error = error_of({"voxml_version": "1.0", "verbs": [verb]})
    assert (error.element, error.attribute) == (element, attribute)
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("verb", "element", "fragment"),
    [
        ({"verb": "Bogus"}, "Bogus", "unknown verb"),
        ({"text": "no verb key"}, "None", "unknown verb"),
        ({"verb": "Gather", "prompts": [{"verb": "Reject"}]}, "Reject", "cannot be nested"),
        ({"verb": "Gather", "prompts": [{"verb": "Dial"}]}, "Dial", "not allowed inside Gather"),
        ({"verb": "Dial", "targets": [{"type": "fax"}]}, "fax", "not allowed inside Dial"),
    ],
)
def test_unknown_verbs_and_nesting(verb: dict[str, object], element: str, fragment: str) -> None:
    error = error_of({"voxml_version": "1.0", "verbs": [verb]})
    assert error.element == element
    assert fragment in str(error)
