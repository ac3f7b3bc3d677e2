from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# The interop tests' real server, webhook server and SIPp clean-up, shared.
from tests.interop.conftest import _stop_sipp_callees, callplane, phone, web, workdir  # noqa: F401

HERE = Path(__file__).parent
SNIPPETS = HERE.parent.parent / "docs" / "sdk-snippets"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp missing: apt-get install sip-tester (.ci/run does)")
        for item in items:
            if "tests/sdks" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/sdks/node_modules (installed by .ci/run), else the lock installed in a temp dir."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    if (HERE / "node_modules" / "plivo").is_dir() and (HERE / "node_modules" / "twilio").is_dir():
        return HERE / "node_modules"
    home = tmp_path_factory.mktemp("sdks")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, home / name)
    try:
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm ci took more than 300 s")
    if installed.returncode != 0:
        pytest.skip(f"npm ci failed (no registry?): {installed.stderr[-500:]}")
    return home / "node_modules"


Run = Callable[[str, dict[str, str]], subprocess.CompletedProcess[str]]


@pytest.fixture
def run_snippet(request: pytest.FixtureRequest) -> Run:
    """Runs a snippet (a file name in docs/sdk-snippets, or a path) as it is, under the
    loopback-only guard, with ``env`` added."""

    def run(snippet: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **env}
        if snippet.endswith(".js"):
            modules = request.getfixturevalue("node_modules")
            full_env["NODE_PATH"] = str(modules)
            cmd = ["node", "--require", str(HERE / "loopback_only.js"), str(SNIPPETS / snippet)]
        else:
            cmd = [sys.executable, str(HERE / "loopback_only.py"), str(SNIPPETS / snippet)]
        return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=120)

    return run
