"""Each component's settings: required, types, allowed values, defaults, exits, variables."""

from __future__ import annotations

from typing import Any

import pytest

from callplane.flows.components import COMPONENTS, Kind, check_settings, produces

EXPECTED_TYPES = {
    "start": "Start",
    "hangup": "Hangup",
    "call_forward": "Call Forward",
    "http_request": "HTTP Request",
    "initiate_call": "Initiate Call",
    "ivr_menu": "IVR Menu",
    "conference": "Conference Bridge",
    "counter": "Counter",
    "play_audio": "Play Audio",
    "speak": "Speak",
    "get_input": "Get Input",
    "branch": "Branch",
    "set_variable": "Set Variable",
    "record": "Record",
    "send_sms": "Send SMS",
}

# A minimal valid settings object per component.
MINIMAL: dict[str, dict[str, Any]] = {
    "start": {},
    "hangup": {},
    "call_forward": {"from": "14155550100", "to": "14155550101"},
    "http_request": {"url": "https://example.com/hook"},
    "initiate_call": {"from": "14155550100", "to": "14155550101"},
    "ivr_menu": {"prompt": "Press 1 for sales", "choices": ["1", "2"]},
    "conference": {"room": "standup"},
    "counter": {"counter": "callers"},
    "play_audio": {"url": "https://example.com/a.mp3"},
    "speak": {"text": "Hello"},
    "get_input": {},
    "branch": {
        "variable": "{{Start.call.from}}",
        "conditions": [{"name": "vip", "operator": "equals", "value": "14155550100"}],
    },
    "set_variable": {"variables": {"greeting": "hi"}},
    "record": {},
    "send_sms": {"from": "1", "to": "2", "text": "hi"},
}


def _problems(kind: str, **settings: Any) -> list[str]:
    return check_settings(COMPONENTS[kind], {**MINIMAL[kind], **settings})[0]


def test_every_component_of_the_issue_is_declared() -> None:
    assert {t: c.label for t, c in COMPONENTS.items()} == EXPECTED_TYPES
    assert [c.type for c in COMPONENTS.values() if c.unavailable] == ["send_sms"]


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_settings_pass_and_fill_defaults(kind: str) -> None:
    component = COMPONENTS[kind]
    problems, effective = check_settings(component, MINIMAL[kind])
    assert problems == []
    assert set(effective) == {s.name for s in component.settings}


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_required_settings_are_reported(kind: str) -> None:
    component = COMPONENTS[kind]
    required = [s.name for s in component.settings if s.required]
    problems, _ = check_settings(component, {})
    assert problems == [f"settings.{name}: required" for name in required]


def test_unknown_setting_lists_the_allowed_ones() -> None:
    assert _problems("hangup", cause="x") == ["settings.cause: unknown setting (allowed: reason)"]


def test_defaults() -> None:
    _, forward = check_settings(COMPONENTS["call_forward"], MINIMAL["call_forward"])
    assert (forward["timeout"], forward["mode"], forward["caller_name"]) == (30, "simultaneous", "")
    _, hangup = check_settings(COMPONENTS["hangup"], {})
    assert hangup == {"reason": "normal"}
    _, http = check_settings(COMPONENTS["http_request"], MINIMAL["http_request"])
    assert (http["method"], http["timeout"], http["headers"], http["body"]) == ("POST", 5, {}, {})


@pytest.mark.parametrize(
    ("kind", "settings", "expected"),
    [
        (
            "hangup",
            {"reason": "nope"},
            "settings.reason: must be one of: 'normal', 'rejected', "
            "'busy', 'forbidden', 'anonymity_disallowed', 'address_incomplete', 'no_route', "
            "'service_unavailable', 'unwanted'",
        ),
        ("call_forward", {"timeout": "30"}, "settings.timeout: must be an integer"),
        ("call_forward", {"timeout": True}, "settings.timeout: must be an integer"),
        ("call_forward", {"timeout": 1}, "settings.timeout: must be between 5 and 600"),
        (
            "call_forward",
            {"to": "1,,2"},
            "settings.to: must be comma-separated numbers, sip: URIs or endpoint names",
        ),
        (
            "call_forward",
            {"mode": "random"},
            "settings.mode: must be one of: 'simultaneous', 'sequential'",
        ),
        ("call_forward", {"from": 14155550100}, "settings.from: must be a string"),
        (
            "http_request",
            {"url": "ftp://x"},
            "settings.url: must be an http:// or https:// URL (or a {{variable}})",
        ),
        (
            "http_request",
            {"headers": {"a": [1]}},
            "settings.headers: must be an object of name: "
            "value pairs (values: strings, numbers, booleans)",
        ),
        (
            "http_request",
            {"body": ["x"]},
            "settings.body: must be an object of name: value pairs "
            "(values: strings, numbers, booleans)",
        ),
        (
            "ivr_menu",
            {"choices": ["1", "10"]},
            "settings.choices: '10' is not a phone key (0-9, *, #)",
        ),
        ("ivr_menu", {"choices": ["1", "1"]}, "settings.choices: lists a key twice"),
        ("ivr_menu", {"retries": 9}, "settings.retries: must be between 0 and 5"),
        ("conference", {"muted": "yes"}, "settings.muted: must be true or false"),
        ("counter", {"limit": 0}, "settings.limit: must be at least 1"),
        (
            "get_input",
            {"patterns": {"pin": "[0-9"}},
            "settings.patterns: 'pin': not a regular "
            "expression (unterminated character set at position 0)",
        ),
        (
            "get_input",
            {"patterns": {"no_input": "1"}},
            "settings.patterns: 'no_input': 'no_input' is reserved",
        ),
        (
            "branch",
            {"conditions": [{"name": "else", "operator": "equals", "value": "1"}]},
            "settings.conditions: [0] name: 'else' is reserved",
        ),
        (
            "branch",
            {"conditions": [{"name": "a", "operator": "like", "value": "1"}]},
            "settings.conditions: [0] operator: must be one of equals, not_equals, contains, "
            "greater_than, less_than, regex",
        ),
        (
            "branch",
            {"conditions": [{"name": "a", "operator": "greater_than", "value": "x"}]},
            "settings.conditions: [0] value: greater_than needs a number",
        ),
        (
            "branch",
            {"conditions": [{"name": "a", "operator": "equals", "value": "1"}] * 2},
            "settings.conditions: two conditions have the same name",
        ),
        (
            "set_variable",
            {"variables": {"two words": "x"}},
            "settings.variables: 'two words' is "
            "not a variable name (letter, then letters, digits, _)",
        ),
        ("record", {"format": "ogg"}, "settings.format: must be one of: 'mp3', 'wav'"),
    ],
)
def test_bad_settings(kind: str, settings: dict[str, Any], expected: str) -> None:
    assert _problems(kind, **settings) == [expected]


def test_templates_are_accepted_where_numbers_will_be() -> None:
    condition = {"name": "big", "operator": "greater_than", "value": "{{Counter_1.count}}"}
    assert _problems("branch", conditions=[condition]) == []


def test_static_exits() -> None:
    exits = {t: c.exits(check_settings(c, MINIMAL[t])[1]) for t, c in COMPONENTS.items()}
    assert exits["start"] == ("incoming_call", "incoming_sms", "api_request")
    assert exits["hangup"] == ()
    assert exits["call_forward"] == ("answered", "no_answer", "busy", "failed")
    assert exits["initiate_call"] == ("answered", "no_answer", "busy", "failed")
    assert exits["http_request"] == ("success", "failed")
    assert exits["send_sms"] == ("sent", "failed")
    assert exits["speak"] == exits["play_audio"] == exits["record"] == ("next",)


def test_computed_exits() -> None:
    def exits(kind: str, **settings: Any) -> tuple[str, ...]:
        component = COMPONENTS[kind]
        return component.exits(check_settings(component, {**MINIMAL[kind], **settings})[1])

    assert exits("ivr_menu", choices=["1", "2", "#"]) == ("1", "2", "#", "no_input", "wrong_input")
    assert exits("branch") == ("vip", "else")
    assert exits("get_input") == ("input", "no_input")
    assert exits("get_input", patterns={"pin": r"\d{4}", "zero": "0"}) == (
        "pin",
        "zero",
        "no_match",
        "no_input",
    )
    assert exits("counter") == ("next",)
    assert exits("counter", limit=3) == ("next", "limit_reached")


def test_exits_that_may_end_the_flow() -> None:
    assert COMPONENTS["call_forward"].may_end == {"answered", "no_answer", "busy", "failed"}
    assert COMPONENTS["http_request"].may_end == {"success", "failed"}
    assert COMPONENTS["ivr_menu"].may_end == {"no_input", "wrong_input"}
    assert COMPONENTS["branch"].may_end == {"else"}
    assert COMPONENTS["start"].min_connected == 1


def test_variables() -> None:
    forward = COMPONENTS["call_forward"]
    assert forward.variables({}) == (
        "dial_status",
        "dial_ring_status",
        "dial_hangup_cause",
        "dial_a_leg_uuid",
        "dial_b_leg_uuid",
    )
    start = COMPONENTS["start"]
    assert produces(start, {"api_params": {"to": ""}}, "http.params.to")
    assert not produces(start, {"api_params": {}}, "http.params.to")
    assert produces(start, {}, "call.from")
    http = COMPONENTS["http_request"]
    assert produces(http, {}, "response.body.user.id")
    assert not produces(http, {}, "response.body")
    assert produces(COMPONENTS["set_variable"], {"variables": {"lang": "en"}}, "lang")


def test_every_kind_has_a_check() -> None:
    from callplane.flows.components import KIND_CHECKS

    assert set(KIND_CHECKS) == set(Kind)
