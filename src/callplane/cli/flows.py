"""``callplane flows``: visual call flows (like Plivo PHLO) and their runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from callplane.cli.client import Api, api_of, show
from callplane.cli.resources import delete_command, list_command, print_get, print_post

FLOW_COLUMNS = ["flow_id", "name", "published_version", "updated"]
RUN_COLUMNS = ["run_id", "trigger", "run_status", "version", "call_uuid", "started", "ended"]


@click.group()
def flows() -> None:
    """Visual call flows (like Plivo PHLO): import, export, validate, publish."""


def _flow_file(path: Path) -> dict[str, Any]:
    from callplane.flows import Flow, FlowError

    try:
        return Flow.loads(path.read_bytes()).to_dict()
    except FlowError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    return [f"{p['node']}: {p['message']}" if p["node"] else p["message"] for p in problems]


@flows.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "flow_id", help="Replace this flow's draft instead of creating a flow.")
@click.option("--name", help="Flow name (default: the document's).")
@click.pass_context
def flows_import(ctx: click.Context, file: Path, flow_id: str | None, name: str | None) -> None:
    """Create a flow from a JSON FILE (a draft: publish it when it validates)."""
    body = {"document": _flow_file(file), "name": name}
    path = f"Flow/{flow_id}/" if flow_id else "Flow/"
    print_post(ctx, path, body, ["flow_id", "name", "message"])


@flows.command("export")
@click.argument("flow_id")
@click.option("--version", type=int, help="A published version instead of the draft.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.pass_context
def flows_export(
    ctx: click.Context, flow_id: str, version: int | None, output: Path | None
) -> None:
    """Print a flow's document as JSON (the file `flows import` reads)."""
    from callplane.flows import Flow

    path = f"Flow/{flow_id}/" + (f"Version/{version}/" if version else "")
    text = Flow.parse(api_of(ctx).call("GET", path)["document"]).dumps()
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"wrote {output}", err=True)


@flows.command("validate")
@click.argument("flow")
@click.pass_context
def flows_validate(ctx: click.Context, flow: str) -> None:
    """Validate FLOW: a JSON file (checked locally, no server needed) or a flow id (its
    draft, checked by the server). Exits 1 when there are problems."""
    from callplane.flows import Flow, validate

    if Path(flow).is_file():
        problems = [p.to_dict() for p in validate(Flow.parse(_flow_file(Path(flow))))]
    else:
        problems = api_of(ctx).call("POST", f"Flow/{flow}/Validate/")["errors"]
    if ctx.find_root().obj["as_json"]:
        click.echo(json.dumps({"valid": not problems, "errors": problems}, indent=2))
    else:
        click.echo("\n".join(_problem_lines(problems)) or "valid")
    if problems:
        ctx.exit(1)


list_command(
    flows,
    "Flow",
    FLOW_COLUMNS,
    "List flows with their newest published version.",
    query={"limit": 20},
)


@flows.command("publish")
@click.argument("flow_id")
@click.pass_context
def flows_publish(ctx: click.Context, flow_id: str) -> None:
    """Validate a flow's draft and publish it as the next version."""
    api = api_of(ctx)
    payload = api.call("POST", f"Flow/{flow_id}/Publish/")
    if api.as_json:
        show(api, payload, [])
        return
    click.echo(f"published version {payload['version']} of flow {flow_id}")


@flows.command("versions")
@click.argument("flow_id")
@click.pass_context
def flows_versions(ctx: click.Context, flow_id: str) -> None:
    """List a flow's published versions, newest first."""
    print_get(ctx, f"Flow/{flow_id}/Version/", ["version", "published"])


delete_command(
    flows, "Flow", "flow_id", "Delete a flow and its published versions.", "deleted flow {}"
)


# -- flow runs -------------------------------------------------------------------------


def _param(ctx: click.Context, option: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", ctx, option)
        pairs[name] = text
    return pairs


@flows.command("run")
@click.argument("flow_id")
@click.option(
    "-p",
    "--param",
    "payload",
    multiple=True,
    callback=_param,
    help="NAME=VALUE, a {{Start.http.params.NAME}} of the run (repeatable).",
)
@click.option("--wait", is_flag=True, help="Wait for the run to end and print its log.")
@click.pass_context
def flows_run(ctx: click.Context, flow_id: str, payload: dict[str, str], wait: bool) -> None:
    """Run FLOW_ID's newest published version from its API Request trigger."""
    api = api_of(ctx)
    started = api.call("POST", f"Flow/{flow_id}/Run/", payload)
    if not wait:
        show(api, started, ["run_id", "run_status", "message"])
        return
    run = _finished_run(api, flow_id, started["run_id"])
    _show_run(api, run)


def _finished_run(api: Api, flow_id: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = api.call("GET", f"Flow/{flow_id}/Run/{run_id}/")
        if run["run_status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def _show_run(api: Api, run: dict[str, Any]) -> None:
    if api.as_json:
        click.echo(json.dumps(run, indent=2, default=str))
        return
    click.echo(f"run {run['run_id']}: {run['run_status']} ({run['trigger']})")
    for entry in run["log"]:
        details = {k: v for k, v in entry.items() if k not in ("time", "node", "event")}
        shown = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in details.items())
        click.echo(f"{entry['time']}  {entry['node'] or '-':<16} {entry['event']:<14} {shown}")


@flows.command("runs")
@click.argument("flow_id")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.pass_context
def flows_runs(ctx: click.Context, flow_id: str, limit: int, offset: int) -> None:
    """List FLOW_ID's runs, newest first."""
    params = {"limit": limit, "offset": offset}
    print_get(ctx, f"Flow/{flow_id}/Run/", RUN_COLUMNS, params)


@flows.command("run-log")
@click.argument("flow_id")
@click.argument("run_id")
@click.pass_context
def flows_run_log(ctx: click.Context, flow_id: str, run_id: str) -> None:
    """Print one run's log: nodes, exits, variables, HTTP requests, dial outcomes."""
    api = api_of(ctx)
    _show_run(api, api.call("GET", f"Flow/{flow_id}/Run/{run_id}/"))


@flows.command("assign")
@click.argument("number")
@click.argument("flow_id")
@click.pass_context
def flows_assign(ctx: click.Context, number: str, flow_id: str) -> None:
    """Answer NUMBER with FLOW_ID's newest published version (\"\" unassigns)."""
    print_post(ctx, f"Number/{number.lstrip('+')}/", {"flow_id": flow_id})
