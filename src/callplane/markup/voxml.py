"""VoXML (JSON call control) -> verb model. Compiles only; never executes.

VoXML has no public standard; TryVox publishes a JSON format of that name
(``{"voxml_version": "1.0", "instructions": [...]}``). Callplane's schema,
close to it, with TwiML's verb names and our verb model's snake_case fields::

    {
      "voxml_version": "1.0",                  required, must be "1.0"
      "verbs": [ VERB, ... ]                   "instructions" accepted as an alias
    }

    VERB is an object with "verb" and that verb's keys:
      Say        text (required), voice, language, loop
      Play       url (required), loop
      Pause      length
      Gather     action, method, input ("dtmf"|"speech"|"dtmf speech"), timeout,
                 speech_timeout (int or "auto"), finish_on_key, num_digits,
                 action_on_empty_result, language, hints, profanity_filter,
                 redirect, prompts: [Say|Play|Pause, ...]
      Record     action, method, timeout, max_length, finish_on_key, play_beep,
                 file_format, redirect, record_session, start_on_dial_answer,
                 trim_silence, callback_url, callback_method,
                 transcription_type, transcription_url
      Dial       targets (required): [TARGET, ...], action, method, redirect,
                 timeout, time_limit, caller_id, caller_name, hangup_on_star,
                 confirm_sound, confirm_key, confirm_timeout, dial_music,
                 callback_url, callback_method, sip_headers {name: value},
                 digits_match, digits_match_b_leg, record,
                 recording_callback_url, recording_callback_method
      Conference name (required) and the Conference fields of verbs.py
      Redirect   url (required), method
      Hangup     reason ("completed" or a reject reason)
      Reject     reason (one of design.md §3, default "rejected")

    TARGET: {"type": "number", "number", "send_digits", "send_on_preanswer"}
          | {"type": "user", "uri", "send_digits", "send_on_preanswer", "sip_headers"}
          | {"type": "sip", "uri", "username", "password"}
          | {"type": "client", "identity"}

Values are JSON types (integers may also be given as digit strings, booleans
as "true"/"false"). Defaults are the verb model's (Plivo's), except Gather
whose single ``timeout`` (default 5) works as in TwiML. Unknown keys, unknown
verbs and bad values raise MarkupError naming verb and key; verbs after
Reject or Hangup are dropped unvalidated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from callplane.errors import MarkupError
from callplane.json_shape import shape_problem
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
    same_names,
    seconds_or_auto,
    sip_headers,
    text,
    url,
)
from callplane.markup._xml import MAX_DEPTH, MAX_ELEMENTS
from callplane.markup.twiml import gather_fields
from callplane.markup.verbs import (
    Conference,
    Dial,
    DialClient,
    Dialect,
    DialNumber,
    DialSip,
    DialTarget,
    DialUser,
    Document,
    GetInput,
    Hangup,
    Play,
    Prompt,
    Record,
    Redirect,
    Reject,
    Speak,
    Verb,
    Wait,
    is_terminal,
)
from callplane.reject_reasons import RejectReason

VERSION = "1.0"
TOP_KEYS = ("voxml_version", "verbs", "instructions")  # instructions: TryVox's name for verbs
JSONObject = dict[str, Any]
VerbCompiler = Callable[[JSONObject], Any]


def _required(raw: object) -> str:
    value = text(raw).strip()
    if not value:
        raise ValueError("a non-empty string")
    return value


SAY = same_names(text=_required, voice=text, language=text, loop=integer(0))
PLAY = same_names(url=_required, loop=integer(0))
PAUSE = same_names(length=integer(0))
REDIRECT = same_names(url=_required, method=method)
HANGUP = same_names(reason=choice("completed", *RejectReason))
REJECT = same_names(reason=reject_reason)
GATHER: Spec = {
    **same_names(
        action=url,
        method=method,
        timeout=integer(1),
        finish_on_key=keys(single=True),
        num_digits=integer(1),
        action_on_empty_result=boolean,
        language=text,
        hints=text,
        profanity_filter=boolean,
        redirect=boolean,
    ),
    "input": ("input_type", choice("dtmf", "speech", "dtmf speech")),
    "speech_timeout": ("speech_end_timeout", seconds_or_auto(1)),
}
RECORD = same_names(
    action=url,
    method=method,
    timeout=integer(0),
    max_length=integer(1),
    finish_on_key=keys(),
    play_beep=boolean,
    file_format=choice("mp3", "wav"),
    redirect=boolean,
    record_session=boolean,
    start_on_dial_answer=boolean,
    trim_silence=boolean,
    callback_url=url,
    callback_method=method,
    transcription_type=choice("auto", "hybrid"),
    transcription_url=url,
)
DIAL = same_names(
    action=url,
    method=method,
    redirect=boolean,
    timeout=integer(1),
    time_limit=integer(1),
    caller_id=text,
    caller_name=text,
    hangup_on_star=boolean,
    confirm_sound=url,
    confirm_key=keys(single=True),
    confirm_timeout=integer(1),
    dial_music=url,
    callback_url=url,
    callback_method=method,
    sip_headers=sip_headers,
    digits_match=text,
    digits_match_b_leg=text,
    record=boolean,
    recording_callback_url=url,
    recording_callback_method=method,
)
CONFERENCE = same_names(
    name=_required,
    muted=boolean,
    enter_sound=url,
    exit_sound=url,
    start_conference_on_enter=boolean,
    end_conference_on_exit=boolean,
    stay_alone=boolean,
    wait_sound=url,
    wait_method=method,
    max_members=integer(1),
    record=boolean,
    record_file_format=choice("mp3", "wav"),
    record_when_alone=boolean,
    time_limit=integer(0),
    hangup_on_star=boolean,
    action=url,
    method=method,
    redirect=boolean,
    callback_url=url,
    callback_method=method,
    digits_match=text,
    floor_event=boolean,
    relay_dtmf=boolean,
    send_digits=keys(SEND_DIGIT_KEYS),
)
NUMBER = same_names(number=_required, send_digits=keys(SEND_DIGIT_KEYS), send_on_preanswer=boolean)
USER = same_names(
    uri=_required,
    send_digits=keys(SEND_DIGIT_KEYS),
    send_on_preanswer=boolean,
    sip_headers=sip_headers,
)
SIP = same_names(uri=_required, username=text, password=text)
CLIENT = same_names(identity=_required)


def _fields(name: str, obj: JSONObject, spec: Spec, *skip: str) -> dict[str, Any]:
    """Convert ``obj``'s keys except ``skip`` (default: the ``verb`` selector)."""
    skipped = skip or ("verb",)
    attrs = {key: value for key, value in obj.items() if key not in skipped}
    return convert_attributes(name, attrs, spec)


def _require(name: str, fields: Mapping[str, Any], *keys_: str) -> None:
    for key in keys_:
        if key not in fields:
            raise MarkupError("required", name, key)


def _say(obj: JSONObject) -> Speak:
    fields = _fields("Say", obj, SAY)
    _require("Say", fields, "text")
    return Speak(**fields)


def _play(obj: JSONObject) -> Play:
    fields = _fields("Play", obj, PLAY)
    _require("Play", fields, "url")
    return Play(**fields)


def _pause(obj: JSONObject) -> Wait:
    return Wait(**_fields("Pause", obj, PAUSE))


def _redirect(obj: JSONObject) -> Redirect:
    fields = _fields("Redirect", obj, REDIRECT)
    _require("Redirect", fields, "url")
    return Redirect(**fields)


def _hangup(obj: JSONObject) -> Hangup:
    return Hangup(**_fields("Hangup", obj, HANGUP))


def _reject(obj: JSONObject) -> Reject:
    return Reject(**_fields("Reject", obj, REJECT))


def _record(obj: JSONObject) -> Record:
    return Record(**_fields("Record", obj, RECORD))


def _conference(obj: JSONObject) -> Conference:
    fields = _fields("Conference", obj, CONFERENCE)
    _require("Conference", fields, "name")
    return Conference(**fields)


PROMPTS: Mapping[str, VerbCompiler] = {"Say": _say, "Play": _play, "Pause": _pause}


def _gather(obj: JSONObject) -> GetInput:
    attrs = _fields("Gather", obj, GATHER, "verb", "prompts")
    fields = gather_fields(attrs, profanity_filter=False)
    prompts: tuple[Prompt, ...] = _nested("Gather", "prompts", obj.get("prompts", []), PROMPTS)
    return GetInput(prompts=prompts, **fields)


def _number(obj: JSONObject) -> DialNumber:
    fields = _fields("number", obj, NUMBER, "type")
    _require("number", fields, "number")
    return DialNumber(**fields)


def _user(obj: JSONObject) -> DialUser:
    fields = _fields("user", obj, USER, "type")
    _require("user", fields, "uri")
    return DialUser(**fields)


def _sip(obj: JSONObject) -> DialSip:
    fields = _fields("sip", obj, SIP, "type")
    _require("sip", fields, "uri")
    return DialSip(**fields)


def _client(obj: JSONObject) -> DialClient:
    fields = _fields("client", obj, CLIENT, "type")
    _require("client", fields, "identity")
    return DialClient(**fields)


TARGETS: Mapping[str, VerbCompiler] = {
    "number": _number,
    "user": _user,
    "sip": _sip,
    "client": _client,
}


def _dial(obj: JSONObject) -> Dial:
    fields = _fields("Dial", obj, DIAL, "verb", "targets")
    targets: tuple[DialTarget, ...] = _nested("Dial", "targets", obj.get("targets"), TARGETS)
    if not targets:
        raise MarkupError("at least one target required", "Dial", "targets")
    return Dial(targets=targets, **fields)


VERBS: Mapping[str, VerbCompiler] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
    "Gather": _gather,
    "Record": _record,
    "Dial": _dial,
    "Conference": _conference,
    "Redirect": _redirect,
    "Hangup": _hangup,
    "Reject": _reject,
}


def _nested(parent: str, key: str, items: object, table: Mapping[str, VerbCompiler]) -> Any:
    if not isinstance(items, list):
        raise MarkupError("must be a list", parent, key)
    selector = "type" if key == "targets" else "verb"
    return tuple(_dispatch(item, table, parent, selector) for item in items)


def _dispatch(item: object, table: Mapping[str, VerbCompiler], parent: str, selector: str) -> Any:
    if not isinstance(item, dict):
        raise MarkupError(f"each item must be a JSON object with {selector!r}", parent)
    name = item.get(selector)
    compile_item = table.get(name) if isinstance(name, str) else None
    if compile_item is None:
        _refuse(name, parent, selector, table)
    return compile_item(item)


def _refuse(name: object, parent: str, selector: str, table: Mapping[str, object]) -> NoReturn:
    label = name if isinstance(name, str) else repr(name)
    if name == "Reject" and parent != "verbs":
        raise MarkupError("Reject cannot be nested; it must be a top-level verb", "Reject")
    where = "unknown verb" if parent == "verbs" else f"not allowed inside {parent}"
    raise MarkupError(f"{where}; allowed {selector}: {', '.join(table)}", label)


def _verb_list(data: JSONObject) -> list[object]:
    unknown = set(data) - set(TOP_KEYS)
    if unknown:
        allowed = ", ".join(TOP_KEYS)
        raise MarkupError(f"unknown key; allowed: {allowed}", None, sorted(unknown)[0])
    if data.get("voxml_version") != VERSION:
        raise MarkupError(f"must be {VERSION!r}", None, "voxml_version")
    if "verbs" in data and "instructions" in data:
        raise MarkupError("give either verbs or instructions, not both", None, "verbs")
    key = "instructions" if "instructions" in data else "verbs"
    verbs = data.get(key)
    if not isinstance(verbs, list):
        raise MarkupError("required (verbs or instructions), as a list of verb objects", None, key)
    return verbs


def compile_data(data: object) -> Document:
    """Compile an already decoded VoXML document."""
    if not isinstance(data, dict):
        raise MarkupError("a VoXML document must be a JSON object")
    verbs: list[Verb] = []
    for item in _verb_list(data):
        verb: Verb = _dispatch(item, VERBS, "verbs", "verb")
        verbs.append(verb)
        if is_terminal(verb):
            break
    return Document(Dialect.VOXML, tuple(verbs))


def load_json(document: bytes | str) -> object:
    """The decoded document, its arrays and objects bounded as XML elements are."""
    problem = shape_problem(document, MAX_DEPTH, MAX_ELEMENTS)
    if problem:
        raise MarkupError(f"invalid JSON: {problem}")
    try:
        return json.loads(document)
    except (ValueError, RecursionError) as exc:
        raise MarkupError(f"invalid JSON: {exc}") from exc


def compile(document: bytes | str) -> Document:
    """Parse and compile a VoXML document; any problem raises MarkupError."""
    return compile_data(load_json(document))
