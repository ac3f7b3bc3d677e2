"""``callplane numbers``: numbers from your own carrier, each routed to an application."""

from __future__ import annotations

import click

from callplane.cli.resources import delete_command, list_command, print_post, update_command

NUMBER_COLUMNS = ["number", "application", "alias", "carrier", "region", "max_concurrent_calls"]


def _digits(number: str) -> str:
    return number.lstrip("+")


@click.group()
def numbers() -> None:
    """Numbers from your own carrier, each routed to an application."""


@numbers.command("add")
@click.argument("numbers_")
@click.option("--app", "app_id", help="Application to route calls to.")
@click.option("--carrier", default="own", show_default=True)
@click.option("--region", default="", help="Region label.")
@click.pass_context
def numbers_add(
    ctx: click.Context, numbers_: str, app_id: str | None, carrier: str, region: str
) -> None:
    """Add NUMBERS (E.164, comma-separated)."""
    body = {"numbers": numbers_, "carrier": carrier, "region": region, "app_id": app_id}
    print_post(ctx, "Number/", body)


update_command(
    numbers,
    "Number",
    "number",
    "Assign NUMBER to an application or a flow, or change its alias or call cap.",
    click.option("--app", "app_id", help="Application to route calls to."),
    click.option("--flow", "flow_id", help='Published flow to run instead ("" unassigns).'),
    click.option("--alias"),
    click.option("--max-concurrent-calls", type=int, help="0 = unlimited."),
    ident=_digits,
)
list_command(numbers, "Number", NUMBER_COLUMNS, "List numbers.", query={"limit": 20})
delete_command(numbers, "Number", "number", "Remove NUMBER.", "deleted number {}", ident=_digits)
