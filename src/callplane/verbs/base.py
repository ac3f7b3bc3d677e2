"""The small interface every verb executor shares.

An executor runs one verb on a call and returns an :class:`Outcome`; only the
session loop (``control/session.py``) decides what runs next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callplane.calls.call import Call
    from callplane.markup.verbs import Document


@dataclass(frozen=True, slots=True)
class Next:
    """Go on with the verb after this one."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The call is over; stop executing."""


@dataclass(frozen=True, slots=True)
class NewDocument:
    """Replace the rest of the document with this one (Redirect, action URLs)."""

    document: Document


@dataclass(frozen=True, slots=True)
class EarlyMedia:
    """Run ``document`` now, unanswered (PreAnswer's verbs); then go on after this verb,
    unless the nested document redirected (its next document replaces the rest)."""

    document: Document


Outcome = Next | Ended | NewDocument | EarlyMedia
Executor = Callable[["Call", Any], Awaitable[Outcome]]

NEXT = Next()
ENDED = Ended()
