"""``/v1/Account/{auth_id}/Security/Ban/`` (Callplane's own, main account only):
the sources the SIP transport drops (net/guard.py), and lifting a ban.

The list also carries ``refused``: the largest refusal counters since start
(``banned``, ``pike`` and ``scanner`` per source, ``inbound_cps`` per account),
which stand in for the records and callbacks those requests do not get, and
``limits``: the per-source limit the server runs with.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import ApiError, authenticate, main_only, page_args, reply
from callplane.errors import NotFound
from callplane.net.guard import SourceGuard

REFUSED_SHOWN = 20


def _guard(request: Request) -> SourceGuard:
    guard: SourceGuard | None = request.app.state.guard
    if guard is None:
        raise ApiError(503, "bans are not available: the API runs without SIP")
    return guard


async def list_(request: Request) -> Response:
    main_only(await authenticate(request), "see bans")
    guard = _guard(request)
    limit, offset = page_args(request.query_params)
    bans = guard.bans.active()
    now = guard.bans.clock()
    counts = guard.tally.counts
    objects = [
        {
            "source": ban.source,
            "reason": ban.reason,
            "seconds_left": max(0, round(ban.until - now)),
            "dropped": counts.get(("banned", ban.source), 0),
        }
        for ban in bans[offset : offset + limit]
    ]
    next_page = None
    if offset + limit < len(bans):
        next_page = f"{request.url.path}?limit={limit}&offset={offset + limit}"
    meta = {
        "limit": limit,
        "offset": offset,
        "total_count": len(bans),
        "next": next_page,
        "previous": None,
    }
    refused = [
        {"kind": kind, "key": key, "count": count}
        for kind, key, count in guard.tally.largest(REFUSED_SHOWN)
    ]
    limits = {
        "pike_window": guard.pike.seconds,
        "pike_threshold": guard.pike.threshold,
        "ban_seconds": guard.bans.seconds,
    }
    return reply(meta=meta, objects=objects, refused=refused, limits=limits)


async def lift(request: Request) -> Response:
    main_only(await authenticate(request), "lift bans")
    source = request.path_params["source"]
    if not _guard(request).lift(source):
        raise NotFound(f"ban of {source}")
    return reply(204)
