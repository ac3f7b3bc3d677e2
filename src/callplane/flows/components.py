"""The components a flow is built from, as data: one :class:`Component` per node type
in ``COMPONENTS`` (type -> spec), each with typed settings, its exits (static or
computed from the settings: IVR digits, Branch conditions, Get Input patterns),
which exits may stay unconnected (the flow then ends there), and the variables
the node produces for ``{{NodeId.path}}`` templates (``x.*``: any path below x).

Setting kinds are checked through ``KIND_CHECKS`` (kind -> checker); a checker
returns what is wrong with a value, or nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from callplane.reject_reasons import RejectReason

Settings = Mapping[str, Any]
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_KEYS = frozenset("0123456789*#")
_SCALARS = (str, int, float, bool)
GET_INPUT_OWN = frozenset({"input", "no_match", "no_input"})  # Get Input's own exits


class Kind(StrEnum):
    TEXT = "text"  # a string; {{templates}} allowed
    URL = "url"  # http(s)://... or a template
    DESTINATIONS = "destinations"  # comma-separated numbers, sip: URIs, endpoint names
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"  # one of Setting.choices
    PAIRS = "pairs"  # {"name": "value"} (headers, query, form body)
    BODY = "body"  # pairs, or raw text (JSON with templates)
    VARIABLES = "variables"  # {"identifier": "value"}: names usable in templates
    DIGITS = "digits"  # ["1", "2", "#"]: distinct phone keys (IVR Menu)
    PATTERNS = "patterns"  # {"exit_name": "regex"} (Get Input)
    CONDITIONS = "conditions"  # [{"name", "operator", "value"}] (Branch)


class Operator(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    CONTAINS = "contains"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    REGEX = "regex"


_OPERATORS = frozenset(o.value for o in Operator)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


Exits = Callable[[Settings], tuple[str, ...]]
Variables = Callable[[Settings], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Component:
    type: str  # the node "type" in documents
    label: str  # the designer's palette name
    settings: tuple[Setting, ...]
    exits: Exits
    may_end: frozenset[str] = frozenset()  # exits that may stay unconnected
    variables: Variables = lambda settings: ()
    min_connected: int = 0  # at least this many exits connected (Start: one trigger)
    unavailable: str = ""  # why it cannot be used yet ("" = available)

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)


# -- setting checks --------------------------------------------------------------------

Check = Callable[[Setting, Any], list[str]]


def _text(setting: Setting, value: Any) -> list[str]:
    return [] if isinstance(value, str) else ["must be a string"]


def _url(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    if value.startswith(("http://", "https://", "{{")):
        return []
    return ["must be an http:// or https:// URL (or a {{variable}})"]


def _destinations(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["must be a string"]
    items = [item.strip() for item in value.split(",")]
    if any(not item or " " in item for item in items):
        return ["must be comma-separated numbers, sip: URIs or endpoint names"]
    return []


def _integer(setting: Setting, value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return ["must be an integer"]
    low, high = setting.minimum, setting.maximum
    if low is not None and high is not None and not low <= value <= high:
        return [f"must be between {low} and {high}"]
    if low is not None and value < low:
        return [f"must be at least {low}"]
    if high is not None and value > high:
        return [f"must be at most {high}"]
    return []


def _boolean(setting: Setting, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else ["must be true or false"]


def _choice(setting: Setting, value: Any) -> list[str]:
    if value in setting.choices:
        return []
    return [f"must be one of: {', '.join(repr(c) for c in setting.choices)}"]


def _pairs(setting: Setting, value: Any) -> list[str]:
    if isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values()):
        return []
    return ["must be an object of name: value pairs (values: strings, numbers, booleans)"]


def _body(setting: Setting, value: Any) -> list[str]:
    return [] if isinstance(value, str) else _pairs(setting, value)


def _variables(setting: Setting, value: Any) -> list[str]:
    problems = _pairs(setting, value)
    if problems:
        return problems
    bad = [key for key in value if not _IDENT.fullmatch(key)]
    return [f"{key!r} is not a variable name (letter, then letters, digits, _)" for key in bad]


def _digits(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, list) or any(not isinstance(k, str) for k in value):
        return ['must be a list of keys such as ["1", "2"]']
    problems = [f"{k!r} is not a phone key (0-9, *, #)" for k in value if k not in _KEYS]
    if len(set(value)) != len(value):
        problems.append("lists a key twice")
    return problems


def _patterns(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
        return ["must be an object of exit name: regular expression"]
    problems = [f"{k!r}: {why}" for k, v in value.items() if (why := _exit_name(k, GET_INPUT_OWN))]
    return problems + [f"{k!r}: {why}" for k, v in value.items() if (why := _regex_error(v))]


def _conditions(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, list) or any(not isinstance(c, dict) for c in value):
        return ['must be a list of {"name", "operator", "value"} objects']
    problems = [f"[{i}] {why}" for i, c in enumerate(value) for why in _condition(c)]
    names = [c.get("name") for c in value]
    if len(set(map(str, names))) != len(names):
        problems.append("two conditions have the same name")
    return problems


def _condition(condition: Mapping[str, Any]) -> list[str]:
    unknown = sorted(set(condition) - {"name", "operator", "value"})
    if unknown:
        return [f"unknown key {unknown[0]!r}"]
    why = _exit_name(condition.get("name"), frozenset({"else"}))
    if why:
        return [f"name: {why}"]
    operator, operand = condition.get("operator"), condition.get("value")
    if not isinstance(operator, str) or operator not in _OPERATORS:
        return [f"operator: must be one of {', '.join(o.value for o in Operator)}"]
    if not isinstance(operand, str | int | float) or isinstance(operand, bool):
        return ["value: must be a string or a number"]
    return _operand(Operator(operator), operand)


def _operand(operator: Operator, operand: str | int | float) -> list[str]:
    text = str(operand)
    if "{{" in text:
        return []
    if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and not _is_number(text):
        return [f"value: {operator.value} needs a number"]
    if operator is Operator.REGEX:
        why = _regex_error(text)
        return [f"value: {why}"] if why else []
    return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _exit_name(name: Any, reserved: frozenset[str]) -> str:
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        return "an exit name is a letter, then letters, digits, _"
    return f"{name!r} is reserved" if name in reserved else ""


def _regex_error(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression ({exc})"
    return ""


KIND_CHECKS: dict[Kind, Check] = {
    Kind.TEXT: _text,
    Kind.URL: _url,
    Kind.DESTINATIONS: _destinations,
    Kind.INTEGER: _integer,
    Kind.BOOLEAN: _boolean,
    Kind.CHOICE: _choice,
    Kind.PAIRS: _pairs,
    Kind.BODY: _body,
    Kind.VARIABLES: _variables,
    Kind.DIGITS: _digits,
    Kind.PATTERNS: _patterns,
    Kind.CONDITIONS: _conditions,
}


def check_settings(component: Component, settings: Settings) -> tuple[list[str], dict[str, Any]]:
    """Problems as ``"settings.NAME: what"``, and the effective settings: the
    defaults, overridden by every given value that passed its check."""
    problems: list[str] = []
    effective = {s.name: copy.deepcopy(s.default) for s in component.settings}
    for name, value in settings.items():
        found = _setting_problems(component, name, value)
        problems += [f"settings.{name}: {why}" for why in found]
        if not found:
            effective[name] = value
    problems += [
        f"settings.{s.name}: required"
        for s in component.settings
        if s.required and settings.get(s.name) in (None, "", [], {})
    ]
    return problems, effective


def _setting_problems(component: Component, name: str, value: Any) -> list[str]:
    setting = component.setting(name)
    if setting is None:
        allowed = ", ".join(s.name for s in component.settings) or "none"
        return [f"unknown setting (allowed: {allowed})"]
    return KIND_CHECKS[setting.kind](setting, value)


# -- exits and variables ------------------------------------------------------------------


def static(*exits: str) -> Exits:
    return lambda settings: exits


def _keys_of(name: str, *extra: str) -> Exits:
    def exits(settings: Settings) -> tuple[str, ...]:
        return (*[str(key) for key in settings.get(name) or ()], *extra)

    return exits


def _branch_exits(settings: Settings) -> tuple[str, ...]:
    return (*[str(c.get("name")) for c in settings.get("conditions") or ()], "else")


def _get_input_exits(settings: Settings) -> tuple[str, ...]:
    patterns = settings.get("patterns") or {}
    return (*patterns, "no_match", "no_input") if patterns else ("input", "no_input")


def _counter_exits(settings: Settings) -> tuple[str, ...]:
    return ("next", "limit_reached") if settings.get("limit") is not None else ("next",)


def provides(*paths: str) -> Variables:
    return lambda settings: paths


def _start_variables(settings: Settings) -> tuple[str, ...]:
    params = tuple(f"http.params.{name}" for name in settings.get("api_params") or {})
    return START_VARIABLES + params


def _set_variables(settings: Settings) -> tuple[str, ...]:
    return tuple(settings.get("variables") or {})


START_VARIABLES = (
    "call.from",
    "call.to",
    "call.uuid",
    "call.direction",
    "call.caller_name",
    "message.from",
    "message.to",
    "message.text",
    "message.uuid",
)
DIAL_EXITS = ("answered", "no_answer", "busy", "failed")
DIAL_VARIABLES = (
    "dial_status",
    "dial_ring_status",
    "dial_hangup_cause",
    "dial_a_leg_uuid",
    "dial_b_leg_uuid",
)
HANGUP_REASONS = ("normal", *(reason.value for reason in RejectReason))
VOICES = ("WOMAN", "MAN")
KEYS_TO_FINISH = ("#", "*", "")


def _timeout(default: int, low: int, high: int, name: str = "timeout") -> Setting:
    return Setting(name, Kind.INTEGER, default=default, minimum=low, maximum=high)


def _speech() -> tuple[Setting, ...]:
    return (
        Setting("voice", Kind.CHOICE, default="WOMAN", choices=VOICES),
        Setting("language", Kind.TEXT, default="en-US"),
    )


_DIAL_SETTINGS = (
    Setting("from", Kind.TEXT, required=True),
    Setting("to", Kind.DESTINATIONS, required=True),
    _timeout(30, 5, 600),
    Setting("caller_name", Kind.TEXT, default=""),
)

_COMPONENTS = (
    Component(
        "start",
        "Start",
        (Setting("api_params", Kind.VARIABLES, default={}),),
        static("incoming_call", "incoming_sms", "api_request"),
        may_end=frozenset({"incoming_call", "incoming_sms", "api_request"}),
        variables=_start_variables,
        min_connected=1,
    ),
    Component(
        "hangup",
        "Hangup",
        (Setting("reason", Kind.CHOICE, default="normal", choices=HANGUP_REASONS),),
        static(),
    ),
    Component(
        "call_forward",
        "Call Forward",
        (
            *_DIAL_SETTINGS,
            Setting(
                "mode", Kind.CHOICE, default="simultaneous", choices=("simultaneous", "sequential")
            ),
        ),
        static(*DIAL_EXITS),
        # Any exit may end the flow: Plivo's screening PHLO ends at its Call forwarding.
        may_end=frozenset(DIAL_EXITS),
        variables=provides(*DIAL_VARIABLES),
    ),
    Component(
        "http_request",
        "HTTP Request",
        (
            Setting(
                "method",
                Kind.CHOICE,
                default="POST",
                choices=("GET", "POST", "PUT", "PATCH", "DELETE"),
            ),
            Setting("url", Kind.URL, required=True),
            Setting("headers", Kind.PAIRS, default={}),
            Setting("query", Kind.PAIRS, default={}),
            Setting("body", Kind.BODY, default={}),
            _timeout(5, 1, 30),
        ),
        static("success", "failed"),
        may_end=frozenset({"success", "failed"}),
        variables=provides("response.status_code", "response.text", "response.body.*"),
    ),
    Component(
        "initiate_call",
        "Initiate Call",
        _DIAL_SETTINGS,
        static(*DIAL_EXITS),
        may_end=frozenset({"no_answer", "busy", "failed"}),
        variables=provides("call_uuid", "call_status", "hangup_cause"),
    ),
    Component(
        "ivr_menu",
        "IVR Menu",
        (
            Setting("prompt", Kind.TEXT, required=True),
            Setting("choices", Kind.DIGITS, required=True),
            *_speech(),
            _timeout(5, 1, 60),
            Setting("retries", Kind.INTEGER, default=1, minimum=0, maximum=5),
        ),
        _keys_of("choices", "no_input", "wrong_input"),
        may_end=frozenset({"no_input", "wrong_input"}),
        variables=provides("digits"),
    ),
    Component(
        "conference",
        "Conference Bridge",
        (
            Setting("room", Kind.TEXT, required=True),
            Setting("muted", Kind.BOOLEAN, default=False),
            Setting("start_on_enter", Kind.BOOLEAN, default=True),
            Setting("end_on_exit", Kind.BOOLEAN, default=False),
            Setting("max_members", Kind.INTEGER, default=20, minimum=2, maximum=200),
            Setting("wait_sound", Kind.TEXT, default=""),
        ),
        static("next"),
        may_end=frozenset({"next"}),
        variables=provides("conference_name", "conference_uuid"),
    ),
    Component(
        "counter",
        "Counter",
        (
            Setting("counter", Kind.TEXT, required=True),
            Setting("step", Kind.INTEGER, default=1, minimum=1, maximum=1000),
            Setting("limit", Kind.INTEGER, minimum=1),
        ),
        _counter_exits,
        may_end=frozenset({"next", "limit_reached"}),
        variables=provides("count"),
    ),
    Component(
        "play_audio",
        "Play Audio",
        (
            Setting("url", Kind.URL, required=True),
            Setting("loop", Kind.INTEGER, default=1, minimum=1, maximum=100),
        ),
        static("next"),
        may_end=frozenset({"next"}),
    ),
    Component(
        "speak",
        "Speak",
        (
            Setting("text", Kind.TEXT, required=True),
            *_speech(),
            Setting("loop", Kind.INTEGER, default=1, minimum=1, maximum=100),
        ),
        static("next"),
        may_end=frozenset({"next"}),
    ),
    Component(
        "get_input",
        "Get Input",
        (
            Setting("prompt", Kind.TEXT, default=""),
            *_speech(),
            Setting("num_digits", Kind.INTEGER, default=1, minimum=1, maximum=32),
            Setting("finish_on_key", Kind.CHOICE, default="#", choices=KEYS_TO_FINISH),
            _timeout(5, 1, 60),
            Setting("patterns", Kind.PATTERNS, default={}),
        ),
        _get_input_exits,
        may_end=frozenset({"no_match", "no_input"}),
        variables=provides("digits"),
    ),
    Component(
        "branch",
        "Branch",
        (
            Setting("variable", Kind.TEXT, required=True),
            Setting("conditions", Kind.CONDITIONS, required=True),
        ),
        _branch_exits,
        may_end=frozenset({"else"}),
    ),
    Component(
        "set_variable",
        "Set Variable",
        (Setting("variables", Kind.VARIABLES, required=True),),
        static("next"),
        may_end=frozenset({"next"}),
        variables=_set_variables,
    ),
    Component(
        "record",
        "Record",
        (
            Setting("max_length", Kind.INTEGER, default=60, minimum=1, maximum=3600),
            _timeout(15, 1, 60),
            Setting("finish_on_key", Kind.CHOICE, default="#", choices=KEYS_TO_FINISH),
            Setting("play_beep", Kind.BOOLEAN, default=True),
            Setting("format", Kind.CHOICE, default="mp3", choices=("mp3", "wav")),
        ),
        static("next"),
        may_end=frozenset({"next"}),
        variables=provides("recording_id", "recording_url", "duration"),
    ),
    Component(
        "send_sms",
        "Send SMS",
        (
            Setting("from", Kind.TEXT, required=True),
            Setting("to", Kind.TEXT, required=True),
            Setting("text", Kind.TEXT, required=True),
        ),
        static("sent", "failed"),
        may_end=frozenset({"sent", "failed"}),
        variables=provides("message_uuid"),
        unavailable="Send SMS is not available yet: Callplane has no messaging",
    ),
)

COMPONENTS: dict[str, Component] = {c.type: c for c in _COMPONENTS}


def produces(component: Component, settings: Settings, path: str) -> bool:
    """Whether a node of ``component`` with ``settings`` sets the variable ``path``."""
    for declared in component.variables(settings):
        if declared == path:
            return True
        if declared.endswith(".*") and path.startswith(declared[:-1]):
            return True
    return False
