"""``callplane usage``: calls, billed minutes and cost per day or month."""

from __future__ import annotations

import click

from callplane.cli.client import api_of, given, show

USAGE_COLUMNS = [
    "period",
    "calls",
    "answered_calls",
    "rejected_calls",
    "billed_minutes",
    "cost",
]


@click.command()
@click.option("--period", type=click.Choice(["day", "month"]), default="day", show_default=True)
@click.option("--from", "from_", help="First day, YYYY-MM-DD (default: 30 days ago).")
@click.option("--to", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option("--subaccount", help="A sub-account's usage (main account only).")
@click.pass_context
def usage(
    ctx: click.Context, period: str, from_: str | None, to: str | None, subaccount: str | None
) -> None:
    """Calls, billed minutes and cost per day or month."""
    api = api_of(ctx)
    params = given({"period": period, "from": from_, "to": to, "subaccount": subaccount})
    payload = api.call("GET", "Usage/", params=params)
    if api.as_json:
        show(api, payload, [])
        return
    show(api, {"objects": [*payload["objects"], payload["totals"]]}, USAGE_COLUMNS)
