"""Hostile documents: DTDs, entities, deep nesting, random input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callplane.errors import MarkupError
from callplane.markup import parse_document, plivo_xml, twiml
from callplane.markup.verbs import Dialect, Document

XXE = """<?xml version="1.0"?>
<!DOCTYPE Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Response><Speak>&xxe;</Speak></Response>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<Response><Speak>&lol2;</Speak></Response>"""

EXTERNAL_DTD = '<!DOCTYPE Response SYSTEM "http://attacker.test/x.dtd"><Response/>'


@pytest.mark.parametrize("body", [XXE, BILLION_LAUGHS, EXTERNAL_DTD])
@pytest.mark.parametrize("compile_", [parse_document, plivo_xml.compile, twiml.compile])
def test_dtds_and_entities_are_refused(body: str, compile_: object) -> None:
    """No XXE (file or network reads) and no billion-laughs expansion."""
    with pytest.raises(MarkupError, match="DOCTYPE and ENTITY declarations are not allowed"):
        compile_(body)  # type: ignore[operator]


def test_undeclared_entity_is_refused() -> None:
    with pytest.raises(MarkupError, match="not well-formed"):
        parse_document("<Response><Speak>&xxe;</Speak></Response>")


def test_deep_nesting_is_refused() -> None:
    body = "<Response>" + "<s>" * 5000 + "</s>" * 5000 + "</Response>"
    with pytest.raises(MarkupError, match="nested more than"):
        parse_document(body)


def check(body: bytes | str, content_type: str | None = None) -> None:
    try:
        document = parse_document(body, content_type)
    except MarkupError:
        return
    assert isinstance(document, Document)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_parse_or_raise_markup_error(body: bytes) -> None:
    check(body)


@settings(max_examples=300)
@given(st.text(max_size=400), st.sampled_from([None, "application/json", "text/xml"]))
def test_random_text_parse_or_raise_markup_error(body: str, content_type: str | None) -> None:
    check(body, content_type)


TAGS = [
    "Response", "Speak", "Say", "Play", "Wait", "Pause", "GetInput", "GetDigits", "Gather",
    "Record", "Dial", "Number", "User", "Client", "Sip", "Conference", "Redirect", "Hangup",
    "Reject", "PreAnswer", "DTMF", "Message", "Sms", "break",
]  # fmt: skip
ATTRIBUTES = [
    "loop", "length", "reason", "schedule", "method", "timeout", "digits", "action", "input",
    "inputType", "beep", "silence", "minSilence", "numDigits", "finishOnKey", "sipHeaders",
    "maxLength", "playBeep", "trim", "async", "muted", "record",
]  # fmt: skip
VALUES = ["", "1", "-1", "0", "abc", "true", "FALSE", "GET", "post", "busy", "auto", "a=b", "#"]


def elements(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    attrs = st.dictionaries(st.sampled_from(ATTRIBUTES), st.sampled_from(VALUES), max_size=3)
    inner = st.lists(children | st.sampled_from(["", "hi", "+1555", "https://x.test"]), max_size=3)
    return st.builds(_element, st.sampled_from(TAGS), attrs, inner)


def _element(tag: str, attrs: dict[str, str], inner: list[str]) -> str:
    rendered = "".join(f' {name}="{value}"' for name, value in attrs.items())
    return f"<{tag}{rendered}>{''.join(inner)}</{tag}>"


RESPONSES = st.builds(
    lambda children: f"<Response>{''.join(children)}</Response>",
    st.lists(st.recursive(st.just("<Hangup/>"), elements, max_leaves=8), max_size=5),
)


@settings(max_examples=400)
@given(RESPONSES, st.sampled_from([None, Dialect.PLIVO, Dialect.TWIML]))
def test_structured_documents_compile_or_raise_markup_error(
    body: str, dialect: Dialect | None
) -> None:
    try:
        document = parse_document(body, dialect=dialect)
    except MarkupError as exc:
        assert str(exc)
        return
    assert isinstance(document, Document)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["verb", "text", "url", "type", "targets"]), inner)
    ),
    max_leaves=10,
)
VOXML_VERBS = st.fixed_dictionaries(
    {"verb": st.sampled_from(["Say", "Play", "Pause", "Gather", "Dial", "Reject", "Hangup", "X"])},
    optional={
        "text": JSON_VALUES,
        "url": JSON_VALUES,
        "loop": JSON_VALUES,
        "reason": JSON_VALUES,
        "prompts": JSON_VALUES,
        "targets": JSON_VALUES,
    },
)


@settings(max_examples=300)
@given(st.lists(VOXML_VERBS, max_size=4))
def test_structured_voxml_compiles_or_raises_markup_error(verbs: list[object]) -> None:
    import json

    check(json.dumps({"voxml_version": "1.0", "verbs": verbs}))


def test_documents_hold_at_most_1000_elements() -> None:
    """Response and 999 verbs compile; one more element is refused as the parser meets it."""
    assert len(parse_document("<Response>" + "<Wait/>" * 999 + "</Response>").verbs) == 999
    with pytest.raises(MarkupError, match="Wait: more than 1000 elements"):
        parse_document("<Response>" + "<Wait/>" * 1000 + "</Response>")


def test_documents_hold_at_most_64_kib() -> None:
    speak = "<Speak>" + "word " * 2000 + "</Speak>"  # 10 KiB, a few elements
    body = "<Response>" + speak * 7 + "</Response>"
    with pytest.raises(MarkupError, match="document larger than 65536 bytes"):
        parse_document(body)
    assert len(parse_document("<Response>" + speak * 6 + "</Response>").verbs) == 6


def voxml(verbs: object) -> str:
    return json.dumps({"voxml_version": "1.0", "verbs": verbs})


@pytest.mark.parametrize("depth", [40, 10_000])
def test_voxml_nesting_is_bounded(depth: int) -> None:
    body = voxml([{"verb": "Say", "text": "hi", "x": "[" * depth + "]" * depth}])
    body = body.replace('"' + "[" * depth + "]" * depth + '"', "[" * depth + "]" * depth)
    with pytest.raises(MarkupError, match="nested more than 32 deep"):
        parse_document(body)


def test_voxml_holds_at_most_1000_arrays_and_objects() -> None:
    with pytest.raises(MarkupError, match="more than 1000 arrays and objects"):
        parse_document(voxml([{"verb": "Pause", "length": 1}] * 1000))
    assert len(parse_document(voxml([{"verb": "Pause", "length": 1}] * 990)).verbs) == 990
