"""`callplane serve --data-dir D`: the README lists it among serve's flags, so it works
after `serve` as well as before it (where it is the group's option)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from callplane.cli import main
from tests.interop.harness import CallplaneServer


def test_serve_takes_data_dir_after_serve(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    server = CallplaneServer(outer, extra=("--data-dir", str(inner))).start()
    try:
        assert server.api("GET", "")["auth_id"]
    finally:
        assert server.stop() == 0, server.logs()
    assert (inner / "callplane.db").is_file() and (inner / "credentials.json").is_file()
    assert not (outer / "callplane.db").exists()  # serve's own --data-dir wins


def test_serve_help_lists_data_dir() -> None:
    shown = CliRunner().invoke(main, ["serve", "--help"])
    assert shown.exit_code == 0 and "--data-dir" in shown.output
