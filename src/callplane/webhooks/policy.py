"""Per-URL timeouts and retries, from Plivo's URL-fragment overrides.

A customer URL may end in a fragment such as ``#ct=2000&rt=3000&rc=2&rp=ct,5xx``
(Plivo, "Callback Configurations"). A fragment never goes over the wire, so
:func:`split_url` strips it and returns the :class:`Policy` it describes.

====  =========================================  ==========  =============
key   meaning                                    range       Plivo default
====  =========================================  ==========  =============
ct    connect timeout, ms                        100-10000   2000
rt    read timeout (first byte, between reads)   100-40000   40000
tt    total time for all attempts, ms            100-55000   55000
rc    retries after the first attempt            0-5         1
rp    failures retried: ct, rt, 4xx, 5xx, all    list        ct,rt
er    edge region (recorded, not used here)      name        nearest
====  =========================================  ==========  =============

Values out of range are clamped; unparsable ones are ignored with a warning.
Callbacks use Plivo's defaults (:data:`CALLBACK_POLICY`). Action URLs (answer,
fallback, verb actions) get a short total timeout and no retry: on failure the
call moves on to the fallback URL (:func:`action_policy`). When a fragment sets
``ct``/``rt`` but not ``tt``, the total grows to at least ``ct + rt`` so that the
customer's explicit timeouts hold for one attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

logger = logging.getLogger("callplane.webhooks")

CONNECT_TIMEOUT = "ct"
READ_TIMEOUT = "rt"
CLIENT_ERROR = "4xx"
SERVER_ERROR = "5xx"
FAILURES = frozenset({CONNECT_TIMEOUT, READ_TIMEOUT, CLIENT_ERROR, SERVER_ERROR})

_MS_LIMITS = {"ct": (100, 10_000), "rt": (100, 40_000), "tt": (100, 55_000)}
_MAX_RETRIES = 5
_MAX_TOTAL = 55.0


@dataclass(frozen=True, slots=True)
class Policy:
    """Timeouts (seconds) and retry rules for one URL; defaults are Plivo's."""

    connect_timeout: float = 2.0
    read_timeout: float = 40.0
    total_timeout: float = 55.0
    retry_count: int = 1
    retry_on: frozenset[str] = frozenset({CONNECT_TIMEOUT, READ_TIMEOUT})
    edge_region: str = ""

    def should_retry(self, failure: str, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based), failed as ``failure``, is retried."""
        return attempt <= self.retry_count and failure in self.retry_on


CALLBACK_POLICY = Policy()


def action_policy(default_timeout: float = 5.0) -> Policy:
    """Defaults for URLs whose response is the next document: fast, no retry."""
    return Policy(
        connect_timeout=min(2.0, default_timeout),
        read_timeout=default_timeout,
        total_timeout=default_timeout,
        retry_count=0,
    )


ACTION_POLICY = action_policy()


@lru_cache(maxsize=4096)
def split_url(url: str, defaults: Policy = ACTION_POLICY) -> tuple[str, Policy]:
    """``url`` without its fragment, and the policy the fragment describes."""
    target, _, fragment = url.partition("#")
    if not fragment:
        return target, defaults
    return target, parse_fragment(fragment, defaults, url)


def parse_fragment(fragment: str, defaults: Policy, url: str = "") -> Policy:
    values = _pairs(fragment)
    changes: dict[str, object] = {}
    for key, value in values.items():
        try:
            changes.update(_FIELDS[key](value))
        except (KeyError, ValueError):
            logger.warning("ignoring URL fragment %s=%s", key, value, extra={"url": url})
    policy = replace(defaults, **changes)  # type: ignore[arg-type]
    if "total_timeout" not in changes and changes.keys() & {"connect_timeout", "read_timeout"}:
        floor = min(policy.connect_timeout + policy.read_timeout, _MAX_TOTAL)
        policy = replace(policy, total_timeout=max(policy.total_timeout, floor))
    return policy


def _pairs(fragment: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in fragment.split("&") if part)
    return {key.strip().lower(): value.strip() for key, _, value in pairs}


def _millis(key: str, value: str) -> float:
    low, high = _MS_LIMITS[key]
    return min(max(int(value), low), high) / 1000


def _retry_count(value: str) -> dict[str, object]:
    return {"retry_count": min(max(int(value), 0), _MAX_RETRIES)}


def _retry_policy(value: str) -> dict[str, object]:
    names = {name.strip().lower() for name in value.split(",")}
    chosen = FAILURES if "all" in names else frozenset(names & FAILURES)
    if not chosen:
        raise ValueError(value)
    return {"retry_on": chosen}


_FIELDS: dict[str, Callable[[str], dict[str, object]]] = {
    "ct": lambda v: {"connect_timeout": _millis("ct", v)},
    "rt": lambda v: {"read_timeout": _millis("rt", v)},
    "tt": lambda v: {"total_timeout": _millis("tt", v)},
    "rc": _retry_count,
    "rp": _retry_policy,
    "er": lambda v: {"edge_region": v},
}
