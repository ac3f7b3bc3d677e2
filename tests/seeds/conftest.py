from __future__ import annotations

import shutil

import pytest

# The interop tests' webhook server, SIPp clean-up and SDK client; the sdks tests'
# Node modules (tests/sdks/node_modules, else its lock installed in a temp dir).
from tests.interop.conftest import _stop_sipp_callees, sdk, web, workdir  # noqa: F401
from tests.sdks.conftest import node_modules  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp missing: apt-get install sip-tester (.ci/run does)")
        for item in items:
            if "tests/seeds" in str(item.fspath):
                item.add_marker(skip)
