"""The shape most resource commands share, written once: list them as a table, show one,
change one, delete one, each through the REST API.

``list_command(apps, "Application", APP_COLUMNS, "List applications.")`` adds
``callplane apps list``; the group modules describe their commands this way and write
out by hand only the commands that do something else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from callplane.cli.client import api_of, given, show

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def print_get(
    ctx: click.Context, path: str, columns: list[str], params: dict[str, Any] | None = None
) -> None:
    """GET ``path`` and print it (a page of objects or one object) as a table or JSON."""
    api = api_of(ctx)
    show(api, api.call("GET", path, params=params), columns)


def print_post(
    ctx: click.Context, path: str, body: dict[str, Any], columns: Sequence[str] = ("message",)
) -> None:
    """POST ``body`` (None values left out) to ``path`` and print the answer."""
    api = api_of(ctx)
    show(api, api.call("POST", path, body), list(columns))


def delete(ctx: click.Context, path: str, done: str, body: dict[str, Any] | None = None) -> None:
    api_of(ctx).call("DELETE", path, body)
    click.echo(done)


def list_command(
    group: click.Group,
    path: str,
    columns: list[str],
    help: str,
    *options: Decorator,
    query: dict[str, Any] | None = None,
) -> None:
    """``list``: GET ``path/`` with ``query`` and the given ``options`` as parameters."""

    def run(ctx: click.Context, **chosen: Any) -> None:
        print_get(ctx, f"{path}/", columns, given({**(query or {}), **chosen}))

    _add(group, "list", help, run, options)


def show_command(
    group: click.Group,
    path: str,
    key: str,
    columns: list[str],
    help: str,
) -> None:
    """``show KEY``: GET ``path/KEY/``."""

    def run(ctx: click.Context, **arguments: Any) -> None:
        print_get(ctx, f"{path}/{arguments[key]}/", columns)

    _add(group, "show", help, run, [click.argument(key)])


def update_command(
    group: click.Group,
    path: str,
    key: str,
    help: str,
    *options: Decorator,
    ident: Callable[[str], str] = str,
) -> None:
    """``update KEY [options]``: POST the given options to ``path/ident(KEY)/``."""

    def run(ctx: click.Context, **fields: Any) -> None:
        print_post(ctx, f"{path}/{ident(fields.pop(key))}/", fields)

    _add(group, "update", help, run, [click.argument(key), *options])


def delete_command(
    group: click.Group,
    path: str,
    key: str,
    help: str,
    done: str,
    *options: Decorator,
    name: str = "delete",
    ident: Callable[[str], str] = str,
) -> None:
    """``delete KEY``: DELETE ``path/ident(KEY)/`` (options are its body), then print
    ``done`` with KEY in its ``{}``."""

    def run(ctx: click.Context, **arguments: Any) -> None:
        value = arguments.pop(key)
        delete(ctx, f"{path}/{ident(value)}/", done.format(value), arguments or None)

    _add(group, name, help, run, [click.argument(key), *options])


def _add(
    group: click.Group,
    name: str,
    help: str,
    run: Callable[..., None],
    decorators: Sequence[Decorator],
) -> None:
    callback: Callable[..., Any] = click.pass_context(run)
    for decorate in reversed(decorators):
        callback = decorate(callback)
    group.command(name, help=help)(callback)
