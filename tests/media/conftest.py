"""Fixtures for the media tests: a real HTTP server on 127.0.0.1 and a fetcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callplane.media.fetch import AudioFetcher
from tests.media.helpers import AudioServer, running_audio_server


@pytest.fixture
def audio_server() -> Iterator[AudioServer]:
    with running_audio_server() as server:
        yield server


@pytest.fixture
async def fetcher(tmp_path: Path) -> AsyncIterator[AudioFetcher]:
    async with AudioFetcher(tmp_path / "fetch-cache") as audio:
        yield audio
