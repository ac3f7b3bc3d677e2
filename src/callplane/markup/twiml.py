"""TwiML / RCML -> verb model. Compiles only; never executes.

Twilio's defaults are applied where they differ from Plivo's (the verb
dataclasses default to Plivo's): ``<Say voice="man">``, ``<Gather timeout=5
profanityFilter=true>``, ``<Record timeout=5 maxLength=3600
finishOnKey="1234567890*#" trim="trim-silence">``, ``<Dial timeout=30>``,
``<Conference beep=true maxParticipants=250>``. Mapping decisions:

* ``<Gather timeout>`` is both the wait for input and the gap between digits
  (``execution_timeout`` and ``digit_end_timeout``); ``speechTimeout`` defaults
  to ``timeout`` and ``"auto"`` becomes ``None``.
* ``<Reject reason>`` accepts Twilio's ``rejected`` and ``busy`` plus our six
  other reasons (design.md §3, a Callplane extension).
* ``<Play digits="...">`` compiles to ``Dtmf(digits, async_=False)``.
* ``<Dial>+1555...</Dial>`` (a bare number) compiles to one ``DialNumber``.
* ``<Dial record>``: any ``record-from-*`` mode records the bridged call (mixed
  mono, from the answer: nothing is recorded while it rings, ``-dual`` is not
  split into channels); ``recordingStatusCallback`` gets the recording.
* ``<Dial><Conference>room</Conference></Dial>`` compiles to a ``Conference``
  verb (one executor for conferences in every dialect); Dial's ``action``,
  ``method``, ``hangupOnStar`` and ``timeLimit`` carry over.
* ``<Sms>`` and ``<Message>`` compile to ``Message``.
* ``<Connect><Stream>`` is a blocking two-way ``Stream`` (the document goes on,
  or fetches ``<Connect action>``, when the socket closes); ``<Start><Stream>``
  a one-way fork; ``<Stop><Stream name>`` a ``StopStream``. ``<Parameter>``s
  become ``Stream.parameters`` (``customParameters`` in the start message).
* Verbs after ``<Reject>`` or ``<Hangup>`` are dropped unvalidated.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from callplane.errors import MarkupError
from callplane.markup import _xml
from callplane.markup._attributes import (
    SEND_DIGIT_KEYS,
    Spec,
    boolean,
    choice,
    convert_attributes,
    integer,
    keys,
    method,
    reject_reason,
    seconds_or_auto,
    text,
    url,
    websocket_url,
)
from callplane.markup.verbs import (
    Conference,
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    DialTarget,
    Document,
    Dtmf,
    GetInput,
    Hangup,
    Message,
    Play,
    Prompt,
    Record,
    Redirect,
    Reject,
    Speak,
    StopStream,
    Stream,
    Verb,
    Wait,
)

SSML_TAGS = frozenset(
    {
        "amazon:domain",
        "amazon:effect",
        "break",
        "emphasis",
        "lang",
        "p",
        "phoneme",
        "prosody",
        "s",
        "say-as",
        "sub",
        "w",
    }
)


def _trim(raw: object) -> bool:
    return choice("trim-silence", "do-not-trim")(raw) == "trim-silence"


def _transcribe(raw: object) -> str:
    return "auto" if boolean(raw) else ""


def _record_conference(raw: object) -> bool:
    return choice("do-not-record", "record-from-start")(raw) == "record-from-start"


DIAL_RECORD_MODES = (
    "do-not-record",
    "record-from-answer",
    "record-from-ringing",
    "record-from-answer-dual",
    "record-from-ringing-dual",
)


def _record_dial(raw: object) -> bool:
    return choice(*DIAL_RECORD_MODES, "true", "false")(raw) not in ("do-not-record", "false")


SAY: Spec = {
    "voice": ("voice", text),
    "language": ("language", text),
    "loop": ("loop", integer(0)),
}
PLAY: Spec = {"loop": ("loop", integer(0)), "digits": ("digits", keys(SEND_DIGIT_KEYS))}
PAUSE: Spec = {"length": ("length", integer(0))}
REJECT: Spec = {"reason": ("reason", reject_reason)}
REDIRECT: Spec = {"method": ("method", method)}
GATHER: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "input": ("input_type", choice("dtmf", "speech", "dtmf speech")),
    "timeout": ("timeout", integer(1)),
    "speechTimeout": ("speech_end_timeout", seconds_or_auto(1)),
    "finishOnKey": ("finish_on_key", keys(single=True)),
    "numDigits": ("num_digits", integer(1)),
    "actionOnEmptyResult": ("action_on_empty_result", boolean),
    "language": ("language", text),
    "hints": ("hints", text),
    "profanityFilter": ("profanity_filter", boolean),
    "speechModel": ("speech_model", text),
    "partialResultCallback": ("interim_speech_results_callback", url),
    "partialResultCallbackMethod": ("interim_speech_results_callback_method", method),
}
RECORD: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "timeout": ("timeout", integer(0)),
    "maxLength": ("max_length", integer(1)),
    "finishOnKey": ("finish_on_key", keys()),
    "playBeep": ("play_beep", boolean),
    "trim": ("trim_silence", _trim),
    "recordingStatusCallback": ("callback_url", url),
    "recordingStatusCallbackMethod": ("callback_method", method),
    "transcribe": ("transcription_type", _transcribe),
    "transcribeCallback": ("transcription_url", url),
}
RECORD_DEFAULTS: Mapping[str, Any] = {
    "timeout": 5,
    "max_length": 3600,
    "finish_on_key": "1234567890*#",
    "trim_silence": True,
}
DIAL: Spec = {
    "action": ("action", url),
    "method": ("method", method),
    "timeout": ("timeout", integer(1)),
    "timeLimit": ("time_limit", integer(1)),
    "callerId": ("caller_id", text),
    "hangupOnStar": ("hangup_on_star", boolean),
    "record": ("record", _record_dial),
    "recordingStatusCallback": ("recording_callback_url", url),
    "recordingStatusCallbackMethod": ("recording_callback_method", method),
}
NUMBER: Spec = {"sendDigits": ("send_digits", keys(SEND_DIGIT_KEYS))}
SIP: Spec = {"username": ("username", text), "password": ("password", text)}
CONFERENCE: Spec = {
    "muted": ("muted", boolean),
    "beep": ("beep", choice("true", "false", "onEnter", "onExit")),
    "startConferenceOnEnter": ("start_conference_on_enter", boolean),
    "endConferenceOnExit": ("end_conference_on_exit", boolean),
    "waitUrl": ("wait_sound", url),
    "waitMethod": ("wait_method", method),
    "maxParticipants": ("max_members", integer(2, 250)),
    "record": ("record", _record_conference),
    "statusCallback": ("callback_url", url),
    "statusCallbackMethod": ("callback_method", method),
}
CONFERENCE_FROM_DIAL = ("action", "method", "hangup_on_star", "time_limit")
BEEP_SOUNDS: Mapping[str, tuple[str, str]] = {
    "true": ("beep:1", "beep:1"),
    "false": ("", ""),
    "onEnter": ("beep:1", ""),
    "onExit": ("", "beep:1"),
}
SMS: Spec = {
    "to": ("dst", text),
    "from": ("src", text),
    "action": ("callback_url", url),
    "method": ("callback_method", method),
    "statusCallback": ("callback_url", url),
}

CONNECT: Spec = {"action": ("action", url), "method": ("method", method)}
STREAM: Spec = {
    "url": ("url", websocket_url),
    "name": ("name", text),
    "track": ("audio_track", choice("inbound_track", "outbound_track", "both_tracks")),
    "statusCallback": ("status_callback_url", url),
    "statusCallbackMethod": ("status_callback_method", method),
}
STREAM_TRACKS: Mapping[str, str] = {
    "inbound_track": "inbound",
    "outbound_track": "outbound",
    "both_tracks": "both",
}
PARAMETER: Spec = {"name": ("name", text), "value": ("value", text)}
MAX_PARAMETERS = 100


def _attrs(element: ET.Element, spec: Spec) -> dict[str, Any]:
    return convert_attributes(element.tag, element.attrib, spec)


def _say(element: ET.Element) -> Speak:
    plain, ssml = _xml.speech_text(element, SSML_TAGS)
    return Speak(text=plain, ssml=ssml, **{"voice": "man", **_attrs(element, SAY)})


def _play(element: ET.Element) -> Play | Dtmf:
    _xml.no_children(element)
    fields = _attrs(element, PLAY)
    audio = (element.text or "").strip()
    if "digits" not in fields:
        return Play(url=_xml.required_text(element, "audio URL"), **fields)
    if audio:
        raise MarkupError("use either an audio URL or digits, not both", "Play", "digits")
    return Dtmf(digits=fields["digits"], async_=False)


def _play_prompt(element: ET.Element) -> Play:
    verb = _play(element)
    if isinstance(verb, Dtmf):
        raise MarkupError("digits are not allowed inside <Gather>", "Play", "digits")
    return verb


def _pause(element: ET.Element) -> Wait:
    _xml.no_children(element)
    return Wait(**_attrs(element, PAUSE))


def _hangup(element: ET.Element) -> Hangup:
    _xml.no_children(element)
    _attrs(element, {})
    return Hangup()


def _reject(element: ET.Element) -> Reject:
    _xml.no_children(element)
    return Reject(**_attrs(element, REJECT))


def _redirect(element: ET.Element) -> Redirect:
    return Redirect(url=_xml.required_text(element, "URL"), **_attrs(element, REDIRECT))


def _sms(element: ET.Element) -> Message:
    return Message(text=_xml.required_text(element, "message text"), **_attrs(element, SMS))


PROMPTS: Mapping[str, _xml.Compiler[Prompt]] = {
    "Say": _say,
    "Play": _play_prompt,
    "Pause": _pause,
}


def gather_fields(fields: dict[str, Any], *, profanity_filter: bool = True) -> dict[str, Any]:
    """Spread Twilio's single ``timeout`` (default 5) over the GetInput timeouts."""
    timeout = fields.pop("timeout", 5)
    fields.setdefault("speech_end_timeout", timeout)
    defaults = {"execution_timeout": timeout, "digit_end_timeout": timeout}
    return {**defaults, "profanity_filter": profanity_filter, **fields}


def _gather(element: ET.Element) -> GetInput:
    prompts = _xml.compile_nested(element, PROMPTS)
    return GetInput(prompts=prompts, **gather_fields(_attrs(element, GATHER)))


def _record(element: ET.Element) -> Record:
    _xml.no_children(element)
    return Record(**{**RECORD_DEFAULTS, **_attrs(element, RECORD)})


def _number(element: ET.Element) -> DialNumber:
    return DialNumber(number=_xml.required_text(element, "number"), **_attrs(element, NUMBER))


def _client(element: ET.Element) -> DialClient:
    _attrs(element, {})
    return DialClient(identity=_xml.required_text(element, "client identity"))


def _sip(element: ET.Element) -> DialSip:
    return DialSip(uri=_xml.required_text(element, "SIP URI"), **_attrs(element, SIP))


def _conference_noun(element: ET.Element) -> Conference:
    fields = _attrs(element, CONFERENCE)
    enter, exit_ = BEEP_SOUNDS[fields.pop("beep", "true")]
    name = _xml.required_text(element, "conference name")
    defaults = {"enter_sound": enter, "exit_sound": exit_, "max_members": 250}
    return Conference(name=name, **{**defaults, **fields})


def _conference_target(element: ET.Element) -> DialTarget:
    raise MarkupError("Conference must be the only noun inside <Dial>", "Conference")


DIAL_NOUNS: Mapping[str, _xml.Compiler[DialTarget]] = {
    "Number": _number,
    "Client": _client,
    "Sip": _sip,
    "Conference": _conference_target,
}


def _dial(element: ET.Element) -> Dial | Conference:
    fields = {"timeout": 30, **_attrs(element, DIAL)}
    if len(element) == 1 and element[0].tag == "Conference":
        return _dial_conference(element[0], fields)
    if len(element) == 0:
        number = _xml.required_text(element, "number or noun")
        return Dial(targets=(DialNumber(number),), **fields)
    return Dial(targets=_xml.compile_nested(element, DIAL_NOUNS), **fields)


def _dial_conference(noun: ET.Element, dial_fields: Mapping[str, Any]) -> Conference:
    conference = _conference_noun(noun)
    carried = {name: dial_fields[name] for name in CONFERENCE_FROM_DIAL if name in dial_fields}
    return replace(conference, **{"time_limit": 14400, **carried})


def _stream_fields(element: ET.Element) -> dict[str, Any]:
    fields = _attrs(element, STREAM)
    if "url" not in fields:
        raise MarkupError("url required", "Stream", "url")
    fields["audio_track"] = STREAM_TRACKS[fields.get("audio_track", "inbound_track")]
    parameters: dict[str, str] = {}
    for child in element:
        if child.tag != "Parameter":
            _xml.refuse_element(child.tag, "Stream", {"Parameter": None})
        _xml.no_children(child)
        pair = _attrs(child, PARAMETER)
        if "name" not in pair:
            raise MarkupError("name required", "Parameter", "name")
        parameters[pair["name"]] = pair.get("value", "")
    if len(parameters) > MAX_PARAMETERS:
        raise MarkupError(f"more than {MAX_PARAMETERS} parameters", "Stream")
    return {**fields, "parameters": parameters, "protocol": "twilio"}


def _only_stream(element: ET.Element) -> ET.Element:
    if len(element) != 1 or element[0].tag != "Stream":
        raise MarkupError("exactly one <Stream> required inside", element.tag)
    return element[0]


def _connect(element: ET.Element) -> Stream:
    """``<Connect><Stream>``: two-way mu-law 8 kHz; the document waits for the socket."""
    stream = _stream_fields(_only_stream(element))
    if stream["audio_track"] != "inbound":
        raise MarkupError("only inbound_track is allowed in <Connect>", "Stream", "track")
    return Stream(
        **stream,
        **_attrs(element, CONNECT),
        bidirectional=True,
        blocking=True,
        content_type="audio/x-mulaw;rate=8000",
    )


def _start(element: ET.Element) -> Stream:
    """``<Start><Stream>``: a one-way fork beside the next verbs."""
    _attrs(element, {})
    stream = _stream_fields(_only_stream(element))
    return Stream(**stream, content_type="audio/x-mulaw;rate=8000")


def _stop(element: ET.Element) -> StopStream:
    _attrs(element, {})
    stream = _only_stream(element)
    _xml.no_children(stream)
    return StopStream(name=_attrs(stream, {"name": ("name", text)}).get("name", ""))


RESPONSE: Mapping[str, _xml.Compiler[Verb]] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
    "Gather": _gather,
    "Record": _record,
    "Dial": _dial,
    "Redirect": _redirect,
    "Hangup": _hangup,
    "Reject": _reject,
    "Sms": _sms,
    "Message": _sms,
    "Connect": _connect,
    "Start": _start,
    "Stop": _stop,
}


def compile_tree(root: ET.Element) -> Document:
    """Compile an already parsed ``<Response>`` element."""
    return Document(Dialect.TWIML, _xml.compile_response(root, RESPONSE))


def compile(document: bytes | str) -> Document:
    """Parse and compile a TwiML/RCML document; any problem raises MarkupError."""
    return compile_tree(_xml.parse_xml(document))
