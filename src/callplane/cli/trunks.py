"""``callplane trunks``: gateways <Number> dials go out through, and trusted inbound peers."""

from __future__ import annotations

from typing import Any

import click

from callplane.cli.resources import (
    Decorator,
    delete_command,
    list_command,
    print_post,
    show_command,
    update_command,
)

TRUNK_COLUMNS = ["trunk_id", "name", "host", "port", "transport", "prefixes", "priority", "enabled"]


def trunk_options(create: bool) -> Decorator:
    """The options ``trunks add`` and ``trunks update`` share; lists are comma-separated."""

    def wrap(f: Any) -> Any:
        options = [
            click.option("--host", required=create, help="Gateway IP address or host name."),
            click.option("--port", type=int, help="Gateway port (default 5060; 0: from DNS SRV)."),
            click.option("--transport", type=click.Choice(["udp", "tcp"]), help="Default udp."),
            click.option("--username", help="User for the gateway's 401/407 challenges."),
            click.option("--password", help="Password for the gateway's challenges."),
            click.option("--prefixes", help="Number prefixes this trunk serves ('' = all)."),
            click.option("--strip-digits", type=int, help="Leading digits to remove."),
            click.option("--add-prefix", help="Digits to put in front after stripping."),
            click.option("--caller-id", help="Fixed caller id ('' keeps the Dial's)."),
            click.option("--acl", "inbound_acl", help="IPs/CIDRs whose INVITEs are this trunk."),
            click.option("--inbound-username", help="Digest user the trunk sends INVITEs as."),
            click.option("--inbound-password", help="Digest password for --inbound-username."),
            click.option("--priority", type=int, help="Lower is tried first among equals."),
            click.option("--enabled/--disabled", default=None, help="Route through it or not."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return wrap


@click.group()
def trunks() -> None:
    """SIP trunks: gateways <Number> dials go out through, and trusted inbound peers."""


@trunks.command("add")
@click.argument("name")
@trunk_options(create=True)
@click.pass_context
def trunks_add(ctx: click.Context, name: str, **fields: Any) -> None:
    """Add a trunk called NAME."""
    print_post(ctx, "Trunk/", {"name": name, **fields}, ["trunk_id", "name", "message"])


list_command(trunks, "Trunk", TRUNK_COLUMNS, "List trunks (passwords are never shown).")
show_command(
    trunks,
    "Trunk",
    "trunk_id",
    [*TRUNK_COLUMNS, "username", "caller_id", "inbound_acl", "inbound_username"],
    "Show one trunk.",
)
update_command(
    trunks,
    "Trunk",
    "trunk_id",
    "Change a trunk; options not given stay as they are.",
    click.option("--name", help="New name."),
    trunk_options(create=False),
)
delete_command(trunks, "Trunk", "trunk_id", "Remove a trunk.", "removed trunk {}", name="remove")
