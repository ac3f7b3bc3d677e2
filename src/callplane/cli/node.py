"""``callplane node``: the running node's state, and draining it (main account only).

Both go through the REST API of the node at --api-url (docs/operations.md), so
they work from another machine too; SIGTERM to the process drains it the same way.
"""

from __future__ import annotations

import click

from callplane.cli.client import api_of, show


@click.group()
def node() -> None:
    """The running node: its state, and draining it (main account only)."""


@node.command("status")
@click.pass_context
def node_status(ctx: click.Context) -> None:
    """Show the node's name, state (ready or draining) and live calls."""
    api = api_of(ctx)
    show(api, api.call("GET", "Node/"), ["node_name", "state", "live_calls", "drain_timeout"])


@node.command("drain")
@click.pass_context
def node_drain(ctx: click.Context) -> None:
    """Refuse new calls (503), let live calls end (up to the node's --drain-timeout),
    then stop the node. Returns at once; `callplane node status` shows progress."""
    payload = api_of(ctx).call("POST", "Node/Drain/")
    click.echo(
        f"{payload['node_name']} is draining: {payload['live_calls']} live call(s), "
        f"up to {payload['drain_timeout']:g} s"
    )
