"""``callplane security``: flood protection of the SIP port (main account only)."""

from __future__ import annotations

import click

from callplane.cli.client import api_of, show


@click.group()
def security() -> None:
    """Flood protection of the SIP port (main account only)."""


@security.group("bans", invoke_without_command=True)
@click.pass_context
def security_bans(ctx: click.Context) -> None:
    """Sources dropped for going over the per-source limit; `lift IP` ends a ban."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(security_bans_list)


@security_bans.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.pass_context
def security_bans_list(ctx: click.Context, limit: int, offset: int) -> None:
    """List banned sources, then the largest refusal counters."""
    api = api_of(ctx)
    payload = api.call("GET", "Security/Ban/", params={"limit": limit, "offset": offset})
    show(api, payload, ["source", "reason", "seconds_left", "dropped"])
    if not api.as_json:
        show(api, {"objects": payload["refused"]}, ["kind", "key", "count"])


@security_bans.command("lift")
@click.argument("source")
@click.pass_context
def security_bans_lift(ctx: click.Context, source: str) -> None:
    """End the ban of SOURCE (an IP address) at once."""
    api_of(ctx).call("DELETE", f"Security/Ban/{source}/")
    click.echo(f"lifted the ban of {source}")
