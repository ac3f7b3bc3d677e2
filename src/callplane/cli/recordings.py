"""``callplane recordings``: recordings made by <Record>."""

from __future__ import annotations

import click

from callplane.cli.resources import delete_command, list_command, show_command

RECORDING_COLUMNS = [
    "recording_id",
    "call_uuid",
    "recording_format",
    "recording_duration_ms",
    "add_time",
]


@click.group()
def recordings() -> None:
    """Recordings made by <Record>."""


list_command(
    recordings,
    "Recording",
    RECORDING_COLUMNS,
    "List recordings, newest first.",
    click.option("--call", "call_uuid", help="Only this call's recordings."),
    click.option("--limit", default=20, show_default=True),
    click.option("--offset", default=0),
)
show_command(
    recordings,
    "Recording",
    "recording_id",
    [*RECORDING_COLUMNS, "recording_url"],
    "Show one recording and its URL.",
)
delete_command(
    recordings,
    "Recording",
    "recording_id",
    "Delete a recording and its file.",
    "deleted recording {}",
)
