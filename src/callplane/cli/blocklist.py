"""``callplane blocklist``: refuse callers without a webhook."""

from __future__ import annotations

import click

from callplane.cli.resources import delete_command, list_command, print_post
from callplane.reject_reasons import RejectReason


@click.group()
def blocklist() -> None:
    """Refuse callers without a webhook: exact numbers, prefixes, anonymous callers."""


@blocklist.command("add")
@click.argument("pattern", default="")
@click.option(
    "--match",
    type=click.Choice(["exact", "prefix", "anonymous"]),
    default="exact",
    show_default=True,
)
@click.option(
    "--reason",
    type=click.Choice([reason.value for reason in RejectReason]),
    default="rejected",
    show_default=True,
    help="How the call is refused (SIP code per reason).",
)
@click.option("--number", help="Apply to this number only.")
@click.option("--app", "app_id", help="Apply to every number of this application.")
@click.pass_context
def blocklist_add(
    ctx: click.Context,
    pattern: str,
    match: str,
    reason: str,
    number: str | None,
    app_id: str | None,
) -> None:
    """Block callers matching PATTERN (digits; omit with --match anonymous)."""
    body = {
        "pattern": pattern,
        "match": match,
        "reason": reason,
        "number": number,
        "app_id": app_id,
    }
    print_post(ctx, "Blocklist/", body, ["rule_id", "message"])


list_command(
    blocklist,
    "Blocklist",
    ["rule_id", "match", "pattern", "reason", "number", "app_id"],
    "List block rules.",
)
delete_command(blocklist, "Blocklist", "rule_id", "Delete a block rule.", "deleted rule {}")
