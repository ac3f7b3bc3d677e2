"""The ``callplane`` command: ``serve``, and commands that configure a running server.

Configuration commands speak the REST API (so the server validates everything
once); credentials come from --auth-id/--auth-token, the CALLPLANE_AUTH_ID /
CALLPLANE_AUTH_TOKEN environment, or the credentials file that ``serve``
writes into its data directory on first start.

One module per command group; client.py is the API client and the table printer,
resources.py the list/show/update/delete shape most groups share.
"""

from __future__ import annotations

from pathlib import Path

import click

from callplane import __version__
from callplane.cli.accounts import account, accounts
from callplane.cli.apps import apps
from callplane.cli.blocklist import blocklist
from callplane.cli.calls import calls
from callplane.cli.cluster import cluster
from callplane.cli.endpoints import endpoints
from callplane.cli.flows import flows
from callplane.cli.keys import keys
from callplane.cli.node import node
from callplane.cli.numbers import numbers
from callplane.cli.recordings import recordings
from callplane.cli.security import security
from callplane.cli.serve import serve
from callplane.cli.simulate import call_group
from callplane.cli.trunks import trunks
from callplane.cli.usage import usage


@click.group()
@click.version_option(__version__)
@click.option(
    "--api-url",
    envvar="CALLPLANE_API_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Where `callplane serve` answers HTTP.",
)
@click.option("--auth-id", envvar="CALLPLANE_AUTH_ID", default="", help="Account auth id.")
@click.option("--auth-token", envvar="CALLPLANE_AUTH_TOKEN", default="", help="Auth token.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("callplane-data"),
    show_default=True,
    help="Where serve keeps its database and credentials (`serve --data-dir` too).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def main(
    ctx: click.Context, api_url: str, auth_id: str, auth_token: str, data_dir: Path, as_json: bool
) -> None:
    """Callplane: a self-hosted programmable voice platform."""
    ctx.obj = {
        "api_url": api_url,
        "auth_id": auth_id,
        "auth_token": auth_token,
        "data_dir": data_dir,
        "as_json": as_json,
    }


for command in (
    serve,
    apps,
    numbers,
    blocklist,
    account,
    accounts,
    calls,
    recordings,
    call_group,
    keys,
    usage,
    endpoints,
    trunks,
    security,
    flows,
    cluster,
    node,
):
    main.add_command(command)
