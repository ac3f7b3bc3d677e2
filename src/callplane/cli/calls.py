"""``callplane calls``: call records and the calls running now."""

from __future__ import annotations

from typing import Any

import click

from callplane.cli.client import api_of, given, show
from callplane.cli.resources import delete_command, print_get, show_command

CALL_COLUMNS = [
    "call_uuid",
    "from_number",
    "to_number",
    "call_status",
    "hangup_cause_name",
    "bill_duration",
    "end_time",
]
# calls list's options -> Plivo's filter names.
RENAMES = {
    "min_bill_duration": "bill_duration__gte",
    "max_bill_duration": "bill_duration__lte",
    "ended_after": "end_time__gte",
    "ended_before": "end_time__lt",
}


@click.group()
def calls() -> None:
    """Call records."""


show_command(
    calls,
    "Call",
    "call_uuid",
    [*CALL_COLUMNS, "hangup_source", "error"],
    "Show one call record with its log.",
)


@calls.command("list")
@click.option("--direction", "call_direction", type=click.Choice(["inbound", "outbound"]))
@click.option("--from", "from_number", help="Caller number.")
@click.option("--to", "to_number", help="Called number.")
@click.option("--status", type=click.Choice(["live", "ended"]))
@click.option("--call-status", help="completed, busy, no-answer, failed...")
@click.option("--hangup-source")
@click.option("--hangup-cause-code", type=int)
@click.option("--bill-duration", type=int, help="Exactly this many billed seconds.")
@click.option("--min-bill-duration", type=int, help="At least (bill_duration__gte).")
@click.option("--max-bill-duration", type=int, help="At most (bill_duration__lte).")
@click.option("--ended-after", help="end_time__gte, 'YYYY-MM-DD[ HH:MM[:ss]]' UTC.")
@click.option("--ended-before", help="end_time__lt, 'YYYY-MM-DD[ HH:MM[:ss]]' UTC.")
@click.option("--subaccount", help="A sub-account's records (main account only).")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.pass_context
def calls_list(ctx: click.Context, **options: Any) -> None:
    """List call records, newest first, with Plivo's filters."""
    params = given({RENAMES.get(k, k): v for k, v in options.items()})
    print_get(ctx, "Call/", CALL_COLUMNS, params)


@calls.command("live")
@click.pass_context
def calls_live(ctx: click.Context) -> None:
    """List the calls running now."""
    api = api_of(ctx)
    uuids = api.call("GET", "Call/", params={"status": "live"}).get("calls", [])
    rows = [api.call("GET", f"Call/{uuid}/", params={"status": "live"}) for uuid in uuids]
    show(api, {"objects": rows}, ["call_uuid", "from", "to", "call_status", "session_start"])


delete_command(calls, "Call", "call_uuid", "Hang up a live call.", "hung up {}", name="hangup")
