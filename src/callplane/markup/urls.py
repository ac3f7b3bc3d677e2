"""Relative URLs in a document, resolved against the URL it was fetched from.

Twilio resolves every URL a verb holds (``<Redirect>/next</Redirect>``,
``<Gather action="/gather">``, ``<Play>``, status callbacks...) against the URL
of the document that holds it, as a browser resolves links (RFC 3986 section 5,
``urllib.parse.urljoin``); its tutorials are written that way. Callplane does it
in every dialect: an absolute URL is unchanged, so Plivo XML and VoXML lose
nothing. The base is the URL the document finally came from (after redirects).

Values that are not URLs stay as they are: ``""`` (absent), ``dialMusic="real"``
and the built-in ``beep:1``/``beep:2`` conference sounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any, TypeVar, cast
from urllib.parse import urljoin

from callplane.markup.verbs import (
    Conference,
    Dial,
    Document,
    GetInput,
    Message,
    Play,
    PreAnswer,
    Record,
    Redirect,
    Verb,
)

# Every URL-valued field of every verb. A new URL field must be listed here.
URL_FIELDS: Mapping[type, tuple[str, ...]] = {
    Play: ("url",),
    GetInput: ("action", "invalid_digits_sound", "interim_speech_results_callback"),
    Record: ("action", "callback_url", "transcription_url"),
    Dial: ("action", "dial_music", "confirm_sound", "callback_url", "recording_callback_url"),
    Redirect: ("url",),
    Conference: (
        "action",
        "callback_url",
        "wait_sound",
        "enter_sound",
        "exit_sound",
        "transcription_url",
    ),
    Message: ("callback_url",),
}
NOT_URLS = frozenset({"", "real", "beep:1", "beep:2"})
_ABSOLUTE = ("http://", "https://")

V = TypeVar("V", bound=Verb)


def resolve_urls(document: Document, base_url: str) -> Document:
    """``document`` with every relative URL made absolute against ``base_url``."""
    verbs = tuple(_resolve_verb(verb, base_url) for verb in document.verbs)
    return replace(document, verbs=verbs, base_url=base_url)


def resolve(url: str, base_url: str) -> str:
    """One URL against ``base_url``; values that are not URLs are returned unchanged."""
    if url.startswith(_ABSOLUTE) or url.lower() in NOT_URLS:
        return url  # the common case, without urljoin's cost
    return _join(base_url, url)


@lru_cache(maxsize=4096)
def _join(base_url: str, url: str) -> str:
    """urljoin, remembered: an application's documents repeat the same few URLs, and
    urljoin costs several microseconds."""
    return urljoin(base_url, url)


def _resolve_verb(verb: V, base_url: str) -> V:
    changes: dict[str, object] = {}
    for name in URL_FIELDS.get(type(verb), ()):
        value = getattr(verb, name)
        absolute = resolve(value, base_url)
        if absolute != value:
            changes[name] = absolute
    if isinstance(verb, GetInput) and verb.prompts:
        prompts = tuple(_resolve_verb(prompt, base_url) for prompt in verb.prompts)
        if prompts != verb.prompts:
            changes["prompts"] = prompts
    elif isinstance(verb, PreAnswer):
        changes["verbs"] = tuple(_resolve_verb(nested, base_url) for nested in verb.verbs)
    if not changes:
        return verb
    resolved: V = replace(cast(Any, verb), **changes)  # mypy cannot replace() a TypeVar
    return resolved
