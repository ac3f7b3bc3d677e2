"""``callplane apps``: applications, where calls to your numbers get their answer document."""

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

APP_COLUMNS = ["app_id", "app_name", "answer_url", "hangup_url", "max_concurrent_calls"]
METHODS = click.Choice(["GET", "POST"], case_sensitive=False)


@click.group()
def apps() -> None:
    """Applications: where calls to your numbers get their answer document."""


def app_options(create: bool) -> Decorator:
    def wrap(f: Any) -> Any:
        opts = [
            click.option("--name", "app_name", required=create, help="Application name."),
            click.option("--answer-url", required=create, help="URL returning the document."),
            click.option("--answer-method", type=METHODS),
            click.option("--fallback-answer-url"),
            click.option("--fallback-method", type=METHODS),
            click.option("--hangup-url", help="Notified with Plivo's hangup parameters."),
            click.option("--hangup-method", type=METHODS),
            click.option("--status-callback-url", help="Receives JSON events (call-rejected)."),
            click.option(
                "--dialect",
                type=click.Choice(["plivo", "twiml", "voxml"]),
                help="Pin the markup dialect instead of detecting it.",
            ),
            click.option("--max-concurrent-calls", type=int, help="0 = unlimited."),
        ]
        for opt in reversed(opts):
            f = opt(f)
        return f

    return wrap


@apps.command("create")
@app_options(create=True)
@click.pass_context
def apps_create(ctx: click.Context, **fields: Any) -> None:
    """Create an application; prints its app_id."""
    print_post(ctx, "Application/", fields, ["app_id", "message"])


update_command(
    apps, "Application", "app_id", "Change fields of an application.", app_options(False)
)
list_command(apps, "Application", APP_COLUMNS, "List applications.", query={"limit": 20})
show_command(
    apps, "Application", "app_id", [*APP_COLUMNS, "fallback_answer_url"], "Show one application."
)
delete_command(apps, "Application", "app_id", "Delete an application.", "deleted application {}")
