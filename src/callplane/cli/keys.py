"""``callplane keys``: API keys, named secrets that authenticate like the auth token."""

from __future__ import annotations

import click

from callplane.cli.resources import delete_command, list_command, print_post


@click.group()
def keys() -> None:
    """API keys: named secrets that authenticate like the auth token."""


@keys.command("create")
@click.argument("name")
@click.pass_context
def keys_create(ctx: click.Context, name: str) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    print_post(ctx, "ApiKey/", {"name": name}, ["key_id", "name", "secret"])


list_command(keys, "ApiKey", ["key_id", "name", "created"], "List keys (never their secrets).")
delete_command(keys, "ApiKey", "key_id", "Revoke a key at once.", "revoked key {}", name="revoke")
