"""``callplane endpoints``: SIP endpoints, devices that register and are dialled with <User>."""

from __future__ import annotations

from typing import Any

import click

from callplane.cli.resources import (
    delete_command,
    list_command,
    print_post,
    show_command,
    update_command,
)

ENDPOINT_COLUMNS = ["endpoint_id", "username", "alias", "sip_uri", "application"]


@click.group()
def endpoints() -> None:
    """SIP endpoints: username/password devices that register and are dialled with <User>."""


@endpoints.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--alias", default="", help="Display name.")
@click.option("--app", "app_id", help="Application for calls from this endpoint.")
@click.option("--subaccount", help="Create it for this sub-account.")
@click.pass_context
def endpoints_create(ctx: click.Context, username: str, **fields: Any) -> None:
    """Create an endpoint; the password is stored only as a digest."""
    body = {"username": username, **fields}
    print_post(ctx, "Endpoint/", body, ["endpoint_id", "username", "message"])


list_command(
    endpoints,
    "Endpoint",
    ENDPOINT_COLUMNS,
    "List endpoints.",
    click.option("--subaccount", help="A sub-account's endpoints."),
)
show_command(endpoints, "Endpoint", "endpoint_id", ENDPOINT_COLUMNS, "Show one endpoint.")
update_command(
    endpoints,
    "Endpoint",
    "endpoint_id",
    "Change an endpoint's password, alias or application.",
    click.option("--password"),
    click.option("--alias"),
    click.option("--app", "app_id", help="Application ('' to unassign)."),
)
delete_command(endpoints, "Endpoint", "endpoint_id", "Delete an endpoint.", "deleted endpoint {}")
