"""parse_document: dialect detection, pinning, empty documents."""

from __future__ import annotations

import pytest
from plivo import plivoxml
from twilio.twiml.voice_response import VoiceResponse

from callplane.errors import MarkupError
from callplane.markup import MAX_DOCUMENT_SIZE, detect_dialect, parse_document
from callplane.markup.verbs import Dialect, Hangup, Play, Reject, Speak, Wait
from callplane.reject_reasons import RejectReason

DETECTION_TABLE = [
    ('{"voxml_version": "1.0", "verbs": []}', Dialect.VOXML),
    ("<Response><Speak>Hi</Speak></Response>", Dialect.PLIVO),
    ("<Response><GetInput/></Response>", Dialect.PLIVO),
    ("<Response><GetDigits/></Response>", Dialect.PLIVO),
    ("<Response><Wait/></Response>", Dialect.PLIVO),
    ("<Response><PreAnswer/></Response>", Dialect.PLIVO),
    ("<Response><DTMF>1</DTMF></Response>", Dialect.PLIVO),
    ('<Response><Hangup reason="busy"/></Response>', Dialect.PLIVO),
    ('<Response><Hangup schedule="5"/></Response>', Dialect.PLIVO),
    ("<Response><Dial><User>sip:a@b</User></Dial></Response>", Dialect.PLIVO),
    ("<Response><Conference>room</Conference></Response>", Dialect.PLIVO),
    ("<Response><Say>Hi</Say></Response>", Dialect.TWIML),
    ("<Response><Gather/></Response>", Dialect.TWIML),
    ("<Response><Pause/></Response>", Dialect.TWIML),
    ("<Response><Reject/></Response>", Dialect.TWIML),
    ('<Response><Play digits="1"/></Response>', Dialect.TWIML),
    ("<Response><Dial><Client>a</Client></Dial></Response>", Dialect.TWIML),
    ("<Response><Dial><Sip>sip:a@b</Sip></Dial></Response>", Dialect.TWIML),
    ("<Response><Dial><Conference>r</Conference></Dial></Response>", Dialect.TWIML),
    ("<Response><Sms>hi</Sms></Response>", Dialect.TWIML),
    # ambiguous: only elements both dialects share -> Plivo
    ("<Response><Play>https://x.test/a.mp3</Play></Response>", Dialect.PLIVO),
    ("<Response><Redirect>https://x.test</Redirect></Response>", Dialect.PLIVO),
    ("<Response><Hangup/></Response>", Dialect.PLIVO),
    ("<Response><Dial><Number>+1555</Number></Dial><Record/></Response>", Dialect.PLIVO),
    ("<Response/>", Dialect.PLIVO),
]
MIXED = "<Response><Play>u</Play><Say>Hi</Say><Speak>Hi</Speak></Response>"


@pytest.mark.parametrize(("body", "dialect"), DETECTION_TABLE)
def test_detection_table(body: str, dialect: Dialect) -> None:
    assert detect_dialect(body) is dialect
    assert parse_document(body).dialect is dialect


def test_first_distinctive_element_decides() -> None:
    assert detect_dialect(MIXED) is Dialect.TWIML
    with pytest.raises(MarkupError) as info:
        parse_document(MIXED)
    assert info.value.element == "Speak"


def test_sdk_documents_are_detected() -> None:
    plivo_doc = plivoxml.ResponseElement().add_speak("Hi").to_string()
    twilio = VoiceResponse()
    twilio.say("Hi")
    assert parse_document(plivo_doc).verbs == (Speak("Hi"),)
    assert parse_document(str(twilio)).verbs == (Speak("Hi", voice="man"),)


def test_plivo_hangup_first_rejects_through_parse_document() -> None:
    body = plivoxml.ResponseElement().add_hangup(reason="busy").to_string()
    assert parse_document(body.encode()).verbs == (Reject(RejectReason.BUSY),)
    body = "<Response><Hangup/></Response>"
    assert parse_document(body).verbs == (Reject(RejectReason.REJECTED),)
    body = "<Response><Play>u</Play><Hangup/></Response>"
    assert parse_document(body).verbs == (Play("u"), Hangup())


def test_mixed_dialects_fail_on_the_foreign_element() -> None:
    with pytest.raises(MarkupError) as info:
        parse_document("<Response><Speak>Hi</Speak><Say>Hi</Say></Response>")
    assert info.value.element == "Say"


def test_pinned_dialect_skips_detection() -> None:
    body = "<Response><Wait/></Response>"
    assert parse_document(body, dialect=Dialect.PLIVO).verbs == (Wait(),)
    with pytest.raises(MarkupError) as info:
        parse_document(body, dialect=Dialect.TWIML)
    assert info.value.element == "Wait"
    with pytest.raises(MarkupError, match="invalid JSON"):
        parse_document(body, dialect=Dialect.VOXML)
    ambiguous = "<Response><Hangup/></Response>"
    assert parse_document(ambiguous, dialect=Dialect.TWIML).dialect is Dialect.TWIML


def test_content_type_json_means_voxml() -> None:
    body = ' \n {"voxml_version": "1.0", "verbs": [{"verb": "Hangup"}]}'
    assert parse_document(body).dialect is Dialect.VOXML
    with pytest.raises(MarkupError, match="invalid JSON"):
        parse_document("<Response/>", content_type="application/json; charset=utf-8")


def test_json_without_voxml_version_is_refused() -> None:
    with pytest.raises(MarkupError, match="voxml_version"):
        parse_document('{"verbs": []}')


@pytest.mark.parametrize("body", ["", b"", "   \n\t", b"\xef\xbb\xbf  ", "\ufeff"])
def test_empty_document(body: str | bytes) -> None:
    with pytest.raises(MarkupError, match="empty document"):
        parse_document(body)


def test_byte_order_mark_and_declared_encoding() -> None:
    body = '\ufeff<?xml version="1.0" encoding="UTF-8"?><Response><Say>Grüß</Say></Response>'
    assert parse_document(body.encode("utf-8")).verbs == (Speak("Grüß", voice="man"),)
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><Response><Speak>Grüß</Speak></Response>'
    assert parse_document(latin.encode("latin-1")).verbs == (Speak("Grüß"),)
    assert parse_document(latin).verbs == (Speak("Grüß"),)


def test_oversized_document_is_refused() -> None:
    body = "<Response>" + " " * MAX_DOCUMENT_SIZE + "</Response>"
    with pytest.raises(MarkupError, match="larger than"):
        parse_document(body)


def test_not_xml_nor_json() -> None:
    with pytest.raises(MarkupError, match="not well-formed XML"):
        parse_document("hello")
