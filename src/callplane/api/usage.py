"""``/v1/Account/{auth_id}/Usage/`` (Callplane's own): calls, billed minutes and cost
per day or month, summed from the call records (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.calls import MAX_YEAR, MIN_YEAR
from callplane.api.http import authenticate, filters_of, reply, store_of
from callplane.errors import ValidationError
from callplane.store.models import UsagePeriod

QUERY = frozenset({"period", "from", "to", "subaccount"})
DEFAULT_DAYS = 30


def _day(name: str, value: str) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(name, "must be a date, YYYY-MM-DD") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationError(name, f"year must be {MIN_YEAR} to {MAX_YEAR}")
    return day


def _totals(periods: list[UsagePeriod]) -> UsagePeriod:
    cost = sum((Decimal(p.cost) for p in periods), Decimal(0))
    return UsagePeriod(
        period="total",
        calls=sum(p.calls for p in periods),
        answered_calls=sum(p.answered_calls for p in periods),
        rejected_calls=sum(p.rejected_calls for p in periods),
        billed_seconds=sum(p.billed_seconds for p in periods),
        cost=f"{cost:.5f}",
    )


async def get(request: Request) -> Response:
    """``period=day|month`` (default day), ``from``/``to`` dates (default: the last 30 days)."""
    account = await authenticate(request)
    query = filters_of(request.query_params, QUERY)
    today = datetime.now(UTC).date()
    end = _day("to", query["to"]) if query.get("to") else today
    start = _day("from", query["from"]) if query.get("from") else end - timedelta(DEFAULT_DAYS)
    period = query.get("period") or "day"
    store = store_of(request)
    owner = await store.resolve_owner(account.auth_id, query.get("subaccount"))
    periods = await store.usage(owner, start, end, period=period)
    return reply(
        auth_id=owner,
        period=period,
        start=start.isoformat(),
        end=end.isoformat(),
        objects=[shapes.usage(p) for p in periods],
        totals=shapes.usage(_totals(periods)),
    )
