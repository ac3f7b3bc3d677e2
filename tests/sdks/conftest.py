from __future__ import annotations

import shutil

import pytest

# The interop tests' real server, webhook server and SIPp clean-up, shared.
from tests.interop.conftest import _stop_sipp_callees, callplane, web, workdir  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("sipp") is None:
        skip = pytest.mark.skip(reason="sipp missing: apt-get install sip-tester (.ci/run does)")
        for item in items:
            if "tests/sdks" in str(item.fspath):
                item.add_marker(skip)
