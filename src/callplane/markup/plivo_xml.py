"""Plivo XML -> verb model. Compiles only; never executes.

Element and attribute names are case-sensitive, as Plivo's are. Rules beyond
Plivo's own documentation:

* ``<Hangup>`` as the first element of ``<Response>`` (and without
  ``schedule``) refuses the call unanswered: it compiles to
  ``Reject(reason)``, default ``rejected``. ``reason`` accepts Plivo's
  ``rejected`` and ``busy`` plus our six other reasons (design.md §3).
* ``<Hangup schedule="N">`` only schedules the hangup; the document goes on.
  Any other ``<Hangup>`` ends the document: what follows is dropped
  unvalidated, as Plivo ignores it.
* ``<GetDigits>`` compiles to ``GetInput(input_type="dtmf")``: ``timeout`` ->
  ``execution_timeout`` (wait for the first digit), ``digitTimeout`` ->
  ``digit_end_timeout``.
* ``<Wait minSilence>`` is milliseconds in the document, seconds in the verb.
* ``<PreAnswer>`` nests what Plivo's SDK lets it nest: Speak, Play, Wait,
  GetDigits, Redirect, Message, DTMF.
* ``<Stream keepCallAlive="true">`` holds the document until the socket closes
  (``Stream.blocking``); without it the stream runs beside the next elements.
* Booleans accept ``true``/``false`` in any case; methods ``GET``/``POST`` in
  any case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from callplane.errors import MarkupError
from callplane.markup import _xml
from callplane.markup._attributes import (
    SEND_DIGIT_KEYS,
    Spec,
    boolean,
    choice,
    convert_attributes,
    convert_value,
    integer,
    keys,
    method,
    milliseconds,
    reject_reason,
    seconds_or_auto,
    sip_headers,
    stream_content_type,
    text,
    url,
    websocket_url,
)
from callplane.markup.verbs import (
    Conference,
    Dial,
    Dialect,
    DialNumber,
    DialUser,
    Document,
    Dtmf,
    EarlyVerb,
    GetInput,
    Hangup,
    Message,
    Play,
    PreAnswer,
    Prompt,
    Record,
    Redirect,
    Reject,
    Speak,
    Stream,
    Verb,
    Wait,
)
from callplane.reject_reasons import RejectReason

SSML_TAGS = frozenset(
    {"break", "cont", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"}
)

SPEAK: Spec = {
    "voice": ("voice", text),
    "language": ("language", text),
    "loop": ("loop", integer(0)),
}
PLAY: Spec = {"loop": ("loop", integer(0))}
WAIT: Spec = {
    "length": ("length", integer(1)),
    "silence": ("silence", boolean),
    "minSilence": ("min_silence", milliseconds),
    "beep": ("beep", boolean),
}
HANGUP: Spec = {"reason": ("reason", reject_reason), "schedule": ("schedule", integer(1))}
REDIRECT: Spec = {"method": ("method", method)}
DTMF: Spec = {"async": ("async_", boolean)}
GET_INPUT: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "inputType": ("input_type", choice("dtmf", "speech", "dtmf speech")),
    "executionTimeout": ("execution_timeout", integer(5, 60)),
    "digitEndTimeout": ("digit_end_timeout", seconds_or_auto(2, 10)),
    "speechEndTimeout": ("speech_end_timeout", seconds_or_auto(2, 10)),
    "finishOnKey": ("finish_on_key", keys(single=True)),
    "numDigits": ("num_digits", integer(1)),
    "speechModel": ("speech_model", text),
    "hints": ("hints", text),
    "language": ("language", text),
    "interimSpeechResultsCallback": ("interim_speech_results_callback", url),
    "interimSpeechResultsCallbackMethod": ("interim_speech_results_callback_method", method),
    "log": ("log", boolean),
    "redirect": ("redirect", boolean),
    "profanityFilter": ("profanity_filter", boolean),
}
GET_DIGITS: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "timeout": ("execution_timeout", integer(1)),
    "digitTimeout": ("digit_end_timeout", integer(1)),
    "finishOnKey": ("finish_on_key", keys(single=True)),
    "numDigits": ("num_digits", integer(1)),
    "retries": ("retries", integer(1)),
    "redirect": ("redirect", boolean),
    "playBeep": ("play_beep", boolean),
    "validDigits": ("valid_digits", keys()),
    "invalidDigitsSound": ("invalid_digits_sound", url),
    "log": ("log", boolean),
}
GET_DIGITS_DEFAULTS: Mapping[str, Any] = {
    "input_type": "dtmf",
    "execution_timeout": 5,
    "digit_end_timeout": 2,
    "num_digits": 99,
}
RECORD: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "fileFormat": ("file_format", choice("mp3", "wav")),
    "redirect": ("redirect", boolean),
    "timeout": ("timeout", integer(1)),
    "maxLength": ("max_length", integer(1)),
    "playBeep": ("play_beep", boolean),
    "finishOnKey": ("finish_on_key", keys()),
    "recordSession": ("record_session", boolean),
    "startOnDialAnswer": ("start_on_dial_answer", boolean),
    "recordChannelType": ("record_channel_type", choice("mono", "stereo")),
    "transcriptionType": ("transcription_type", choice("auto", "hybrid")),
    "transcriptionUrl": ("transcription_url", url),
    "transcriptionMethod": ("transcription_method", method),
    "transcriptionReportType": ("transcription_type", choice("auto", "hybrid")),
    "callbackUrl": ("callback_url", url),
    "callbackMethod": ("callback_method", method),
}
DIAL: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "redirect": ("redirect", boolean),
    "hangupOnStar": ("hangup_on_star", boolean),
    "timeLimit": ("time_limit", integer(1)),
    "timeout": ("timeout", integer(1)),
    "callerId": ("caller_id", text),
    "callerName": ("caller_name", text),
    "confirmSound": ("confirm_sound", url),
    "confirmKey": ("confirm_key", keys(single=True)),
    "confirmTimeout": ("confirm_timeout", integer(1)),
    "dialMusic": ("dial_music", url),
    "callbackUrl": ("callback_url", url),
    "callbackMethod": ("callback_method", method),
    "digitsMatch": ("digits_match", text),
    "digitsMatchBLeg": ("digits_match_b_leg", text),
    "sipHeaders": ("sip_headers", sip_headers),
}
NUMBER: Spec = {
    "sendDigits": ("send_digits", keys(SEND_DIGIT_KEYS)),
    "sendOnPreanswer": ("send_on_preanswer", boolean),
}
USER: Spec = {**NUMBER, "sipHeaders": ("sip_headers", sip_headers)}
CONFERENCE: Spec = {
    "muted": ("muted", boolean),
    "enterSound": ("enter_sound", url),
    "exitSound": ("exit_sound", url),
    "startConferenceOnEnter": ("start_conference_on_enter", boolean),
    "endConferenceOnExit": ("end_conference_on_exit", boolean),
    "stayAlone": ("stay_alone", boolean),
    "waitSound": ("wait_sound", url),
    "maxMembers": ("max_members", integer(1)),
    "record": ("record", boolean),
    "recordFileFormat": ("record_file_format", choice("mp3", "wav")),
    "recordWhenAlone": ("record_when_alone", boolean),
    "timeLimit": ("time_limit", integer(0)),
    "hangupOnStar": ("hangup_on_star", boolean),
    "action": ("action", url),
    "method": ("method", method),
    "redirect": ("redirect", boolean),
    "callbackUrl": ("callback_url", url),
    "callbackMethod": ("callback_method", method),
    "digitsMatch": ("digits_match", text),
    "floorEvent": ("floor_event", boolean),
    "relayDTMF": ("relay_dtmf", boolean),
    "sendDigits": ("send_digits", keys(SEND_DIGIT_KEYS)),
    "transcriptionType": ("transcription_type", choice("auto", "hybrid")),
    "transcriptionUrl": ("transcription_url", url),
    "transcriptionMethod": ("transcription_method", method),
}
MESSAGE: Spec = {
    "src": ("src", text),
    "dst": ("dst", text),
    "type": ("type", choice("sms")),
    "callbackUrl": ("callback_url", url),
    "callbackMethod": ("callback_method", method),
}

STREAM: Spec = {
    "bidirectional": ("bidirectional", boolean),
    "audioTrack": ("audio_track", choice("inbound", "outbound", "both")),
    "streamTimeout": ("stream_timeout", integer(1)),
    "keepCallAlive": ("blocking", boolean),
    "contentType": ("content_type", stream_content_type),
    "statusCallbackUrl": ("status_callback_url", url),
    "statusCallbackMethod": ("status_callback_method", method),
    "extraHeaders": ("extra_headers", sip_headers),
}


def _attrs(element: ET.Element, spec: Spec) -> dict[str, Any]:
    return convert_attributes(element.tag, element.attrib, spec)


def _speak(element: ET.Element) -> Speak:
    plain, ssml = _xml.speech_text(element, SSML_TAGS)
    return Speak(text=plain, ssml=ssml, **_attrs(element, SPEAK))


def _play(element: ET.Element) -> Play:
    return Play(url=_xml.required_text(element, "audio URL"), **_attrs(element, PLAY))


def _wait(element: ET.Element) -> Wait:
    _xml.no_children(element)
    return Wait(**_attrs(element, WAIT))


def _hangup(element: ET.Element) -> Hangup:
    _xml.no_children(element)
    fields = _attrs(element, HANGUP)
    reason = fields.pop("reason", None)
    return Hangup(reason=str(reason) if reason is not None else None, **fields)


def _refusal(element: ET.Element) -> Reject:
    _xml.no_children(element)
    return Reject(_attrs(element, HANGUP).get("reason", RejectReason.REJECTED))


def _redirect(element: ET.Element) -> Redirect:
    return Redirect(url=_xml.required_text(element, "URL"), **_attrs(element, REDIRECT))


def _dtmf(element: ET.Element) -> Dtmf:
    raw = _xml.required_text(element, "digits")
    digits = convert_value(element.tag, None, raw, keys(SEND_DIGIT_KEYS))
    return Dtmf(digits=digits, **_attrs(element, DTMF))


def _message(element: ET.Element) -> Message:
    return Message(text=_xml.required_text(element, "message text"), **_attrs(element, MESSAGE))


def _stream(element: ET.Element) -> Stream:
    raw = _xml.required_text(element, "WebSocket URL")
    return Stream(url=convert_value("Stream", None, raw, websocket_url), **_attrs(element, STREAM))


PROMPTS: Mapping[str, _xml.Compiler[Prompt]] = {"Speak": _speak, "Play": _play, "Wait": _wait}


def _get_input(element: ET.Element) -> GetInput:
    prompts = _xml.compile_nested(element, PROMPTS)
    return GetInput(prompts=prompts, **_attrs(element, GET_INPUT))


def _get_digits(element: ET.Element) -> GetInput:
    prompts = _xml.compile_nested(element, PROMPTS)
    return GetInput(prompts=prompts, **{**GET_DIGITS_DEFAULTS, **_attrs(element, GET_DIGITS)})


def _record(element: ET.Element) -> Record:
    _xml.no_children(element)
    return Record(**_attrs(element, RECORD))


def _number(element: ET.Element) -> DialNumber:
    return DialNumber(number=_xml.required_text(element, "number"), **_attrs(element, NUMBER))


def _user(element: ET.Element) -> DialUser:
    return DialUser(uri=_xml.required_text(element, "SIP URI"), **_attrs(element, USER))


DIAL_NOUNS: Mapping[str, _xml.Compiler[DialNumber | DialUser]] = {
    "Number": _number,
    "User": _user,
}


def _dial(element: ET.Element) -> Dial:
    targets = _xml.compile_nested(element, DIAL_NOUNS)
    if not targets:
        raise MarkupError("at least one <Number> or <User> required", "Dial")
    return Dial(targets=targets, **_attrs(element, DIAL))


def _conference(element: ET.Element) -> Conference:
    name = _xml.required_text(element, "conference name")
    return Conference(name=name, **_attrs(element, CONFERENCE))


EARLY_VERBS: Mapping[str, _xml.Compiler[EarlyVerb]] = {
    **PROMPTS,
    "GetDigits": _get_digits,
    "Redirect": _redirect,
    "Message": _message,
    "DTMF": _dtmf,
}


def _pre_answer(element: ET.Element) -> PreAnswer:
    _attrs(element, {})
    return PreAnswer(verbs=_xml.compile_nested(element, EARLY_VERBS))


RESPONSE: Mapping[str, _xml.Compiler[Verb]] = {
    "Speak": _speak,
    "Play": _play,
    "Wait": _wait,
    "GetInput": _get_input,
    "GetDigits": _get_digits,
    "Record": _record,
    "Dial": _dial,
    "Redirect": _redirect,
    "Hangup": _hangup,
    "PreAnswer": _pre_answer,
    "Conference": _conference,
    "DTMF": _dtmf,
    "Message": _message,
    "Stream": _stream,
}


def _refuses(root: ET.Element) -> bool:
    first = next(iter(root), None)
    return first is not None and first.tag == "Hangup" and "schedule" not in first.attrib


def compile_tree(root: ET.Element) -> Document:
    """Compile an already parsed ``<Response>`` element."""
    if root.tag == "Response" and _refuses(root):
        _xml.check_root(root)
        return Document(Dialect.PLIVO, (_refusal(root[0]),))
    return Document(Dialect.PLIVO, _xml.compile_response(root, RESPONSE))


def compile(document: bytes | str) -> Document:
    """Parse and compile a Plivo XML document; any problem raises MarkupError."""
    return compile_tree(_xml.parse_xml(document))
