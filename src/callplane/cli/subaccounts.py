"""``callplane accounts subaccounts``: isolated accounts with their own auth id and token."""

from __future__ import annotations

import click

from callplane.cli.resources import (
    delete_command,
    list_command,
    print_post,
    show_command,
    update_command,
)

SUB_COLUMNS = ["auth_id", "name", "enabled", "private_networks", "rate_per_minute", "created"]

PRIVATE_NETWORKS = click.option(
    "--private-networks",
    type=click.Choice(["allow", "deny"]),
    help="Whether its URLs may reach loopback and private networks (default deny).",
)


@click.group()
def subaccounts() -> None:
    """Sub-accounts: isolated accounts with their own auth id and token."""


@subaccounts.command("create")
@click.argument("name")
@click.option("--enabled/--disabled", default=True, show_default=True)
@PRIVATE_NETWORKS
@click.pass_context
def subaccounts_create(
    ctx: click.Context, name: str, enabled: bool, private_networks: str | None
) -> None:
    """Create a sub-account; prints its auth id and token."""
    body = {"name": name, "enabled": enabled, "private_networks": private_networks}
    print_post(ctx, "Subaccount/", body, ["auth_id", "auth_token", "message"])


list_command(
    subaccounts,
    "Subaccount",
    SUB_COLUMNS,
    "List sub-accounts.",
    click.option("--limit", default=20, show_default=True),
    click.option("--offset", default=0),
)
show_command(
    subaccounts,
    "Subaccount",
    "auth_id",
    [*SUB_COLUMNS, "auth_token"],
    "Show one sub-account, with its auth token.",
)
update_command(
    subaccounts,
    "Subaccount",
    "auth_id",
    "Rename, enable/disable, re-price a sub-account, or let its URLs reach private networks.",
    click.option("--name"),
    click.option("--enabled/--disabled", default=None),
    click.option("--rate-per-minute"),
    click.option("--billing-interval", type=int),
    PRIVATE_NETWORKS,
)
delete_command(
    subaccounts,
    "Subaccount",
    "auth_id",
    "Delete a sub-account (its resources move to you unless --cascade).",
    "deleted sub-account {}",
    click.option("--cascade", is_flag=True, help="Delete its apps, numbers, endpoints too."),
)
