"""``callplane accounts`` (profile, pricing, auth token, sub-accounts) and the older
``callplane account`` (name and inbound calls-per-second limit only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from callplane.cli.client import api_of, show
from callplane.cli.resources import print_get, print_post
from callplane.cli.subaccounts import subaccounts

ACCOUNT_COLUMNS = ["auth_id", "name", "city", "address", "rate_per_minute", "billing_interval"]


@click.group()
def account() -> None:
    """Your account: name and inbound calls-per-second limit."""


@account.command("show")
@click.pass_context
def account_show(ctx: click.Context) -> None:
    """Show the account."""
    print_get(ctx, "", ["auth_id", "name", "inbound_cps"])


@account.command("update")
@click.option("--name")
@click.option("--inbound-cps", type=float, help="Inbound calls/s; excess refused 486.")
@click.pass_context
def account_update(ctx: click.Context, name: str | None, inbound_cps: float | None) -> None:
    """Change the account."""
    print_post(ctx, "", {"name": name, "inbound_cps": inbound_cps})


@click.group()
def accounts() -> None:
    """The account: profile, pricing, auth token, and its sub-accounts."""


accounts.add_command(subaccounts)


@accounts.command("show")
@click.pass_context
def accounts_show(ctx: click.Context) -> None:
    """Show the account (never the auth token), and its Twilio-style account SID."""
    print_get(ctx, "", [*ACCOUNT_COLUMNS, "inbound_cps", "twilio_account_sid"])


@accounts.command("update")
@click.option("--name")
@click.option("--city")
@click.option("--address")
@click.option("--inbound-cps", type=float, help="Inbound calls/s; excess refused 486.")
@click.option("--rate-per-minute", help="Price per minute, e.g. 0.0120 (main account).")
@click.option("--billing-interval", type=int, help="Seconds per billed increment.")
@click.pass_context
def accounts_update(ctx: click.Context, **fields: Any) -> None:
    """Change the account's profile, limits or pricing."""
    print_post(ctx, "", fields)


@accounts.command("rotate-token")
@click.pass_context
def accounts_rotate_token(ctx: click.Context) -> None:
    """Replace the auth token; prints the new one (API keys keep working)."""
    api = api_of(ctx)
    payload = api.call("POST", "AuthToken/")
    saved = _update_credentials_file(ctx, payload["auth_id"], payload["auth_token"])
    if api.as_json:
        show(api, payload, [])
        return
    click.echo(f"new auth token: {payload['auth_token']}")
    if saved:
        click.echo(f"(saved in {saved})")


def _update_credentials_file(ctx: click.Context, auth_id: str, token: str) -> Path | None:
    """Keep serve's credentials file working when it holds the rotated account."""
    path: Path = ctx.find_root().obj["data_dir"] / "credentials.json"
    if not path.exists() or json.loads(path.read_text()).get("auth_id") != auth_id:
        return None
    path.write_text(json.dumps({"auth_id": auth_id, "auth_token": token}))
    return path
