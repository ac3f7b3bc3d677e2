from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from callplane.media.errors import FetchError
from callplane.media.fetch import AudioFetcher, CacheControl
from callplane.media.pcm import SAMPLE_RATE, rms
from callplane.webhooks.ssrf import Reach
from tests.media.helpers import AudioServer, Route, dominant_hz, wav_bytes

DATA = Path(__file__).parent / "data"


def stereo_wav_16k(freq: float = 1000.0, seconds: float = 1.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    mono = (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return wav_bytes(np.column_stack([mono, mono]).reshape(-1), rate=16000, channels=2)


async def test_wav_16k_stereo_arrives_8k_mono(
    audio_server: AudioServer, fetcher: AudioFetcher
) -> None:
    audio_server.routes["/tone.wav"] = Route(stereo_wav_16k(1000.0))
    pcm = await fetcher.fetch(audio_server.url("/tone.wav"), reach=Reach.PRIVATE)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert len(pcm) == pytest.approx(SAMPLE_RATE, abs=16)
    assert dominant_hz(pcm) == pytest.approx(1000, abs=3)
    assert rms(pcm) == pytest.approx(0.4 * 32767 / np.sqrt(2), rel=0.05)


async def test_mp3_is_decoded(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    body = (DATA / "tone_1000hz_16k.mp3").read_bytes()
    audio_server.routes["/tone.mp3"] = Route(body, content_type="audio/mpeg")
    pcm = await fetcher.fetch(audio_server.url("/tone.mp3"), reach=Reach.PRIVATE)
    assert 0.9 < len(pcm) / SAMPLE_RATE < 1.2
    assert dominant_hz(pcm) == pytest.approx(1000, abs=3)


async def test_html_is_rejected(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    audio_server.routes["/page"] = Route(b"<html>hello</html>", content_type="text/html")
    url = audio_server.url("/page")
    with pytest.raises(FetchError, match="got text/html, not audio") as info:
        await fetcher.fetch(url, reach=Reach.PRIVATE)
    assert info.value.url == url


async def test_undecodable_body_names_its_type(
    audio_server: AudioServer, fetcher: AudioFetcher
) -> None:
    audio_server.routes["/x"] = Route(b"just some text " * 20, content_type="text/plain")
    with pytest.raises(FetchError, match=r"got text/plain \(300 bytes\) that is not audio"):
        await fetcher.fetch(audio_server.url("/x"), reach=Reach.PRIVATE)


async def test_404_is_a_fetch_error(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as info:
        await fetcher.fetch(audio_server.url("/missing.wav"), reach=Reach.PRIVATE)
    assert info.value.status == 404


async def test_500_is_a_fetch_error(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    audio_server.routes["/boom"] = Route(stereo_wav_16k(), status=500)
    with pytest.raises(FetchError, match="HTTP 500"):
        await fetcher.fetch(audio_server.url("/boom"), reach=Reach.PRIVATE)


async def test_too_large_body_is_refused(audio_server: AudioServer, tmp_path: Path) -> None:
    audio_server.routes["/big.wav"] = Route(stereo_wav_16k(seconds=1.0))
    async with AudioFetcher(tmp_path, max_bytes=10_000) as small:
        with pytest.raises(FetchError, match="exceeds 10000 bytes"):
            await small.fetch(audio_server.url("/big.wav"), reach=Reach.PRIVATE)


async def test_connection_refused_and_bad_scheme(tmp_path: Path) -> None:
    async with AudioFetcher(tmp_path) as audio:
        with pytest.raises(FetchError, match="request failed"):
            await audio.fetch("http://127.0.0.1:9/nothing.wav", reach=Reach.PRIVATE)
        with pytest.raises(FetchError, match="only http"):
            await audio.fetch("file:///etc/passwd", reach=Reach.PRIVATE)


async def test_etag_revalidation_gets_304_and_same_audio(
    audio_server: AudioServer, fetcher: AudioFetcher
) -> None:
    audio_server.routes["/e.wav"] = Route(stereo_wav_16k(), etag='"v1"')
    url = audio_server.url("/e.wav")
    first = await fetcher.fetch(url, reach=Reach.PRIVATE)
    second = await fetcher.fetch(url, reach=Reach.PRIVATE)
    assert audio_server.requests["/e.wav"] == 2
    assert audio_server.conditional["/e.wav"] == 1
    assert audio_server.not_modified["/e.wav"] == 1
    assert np.array_equal(first, second)


async def test_changed_etag_downloads_again(
    audio_server: AudioServer, fetcher: AudioFetcher
) -> None:
    audio_server.routes["/c.wav"] = Route(stereo_wav_16k(1000.0), etag='"v1"')
    url = audio_server.url("/c.wav")
    await fetcher.fetch(url, reach=Reach.PRIVATE)
    audio_server.routes["/c.wav"] = Route(stereo_wav_16k(500.0), etag='"v2"')
    changed = await fetcher.fetch(url, reach=Reach.PRIVATE)
    assert dominant_hz(changed) == pytest.approx(500, abs=3)
    assert audio_server.not_modified.get("/c.wav", 0) == 0


async def test_last_modified_revalidation(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    audio_server.routes["/lm.wav"] = Route(stereo_wav_16k(), last_modified=stamp)
    url = audio_server.url("/lm.wav")
    await fetcher.fetch(url, reach=Reach.PRIVATE)
    await fetcher.fetch(url, reach=Reach.PRIVATE)
    assert audio_server.not_modified["/lm.wav"] == 1


async def test_max_age_skips_the_request(audio_server: AudioServer, tmp_path: Path) -> None:
    now = [1000.0]
    audio_server.routes["/m.wav"] = Route(
        stereo_wav_16k(), etag='"m"', cache_control="public, max-age=60"
    )
    url = audio_server.url("/m.wav")
    async with AudioFetcher(tmp_path, clock=lambda: now[0]) as audio:
        first = await audio.fetch(url, reach=Reach.PRIVATE)
        now[0] += 59
        second = await audio.fetch(url, reach=Reach.PRIVATE)
        assert audio_server.requests["/m.wav"] == 1
        assert np.array_equal(first, second)
        now[0] += 2
        await audio.fetch(url, reach=Reach.PRIVATE)
    assert audio_server.requests["/m.wav"] == 2
    assert audio_server.not_modified["/m.wav"] == 1


async def test_cache_is_on_disk(audio_server: AudioServer, tmp_path: Path) -> None:
    audio_server.routes["/d.wav"] = Route(stereo_wav_16k(), cache_control="max-age=3600")
    url = audio_server.url("/d.wav")
    async with AudioFetcher(tmp_path) as audio:
        await audio.fetch(url, reach=Reach.PRIVATE)
    async with AudioFetcher(tmp_path) as restarted:
        await restarted.fetch(url, reach=Reach.PRIVATE)
    assert audio_server.requests["/d.wav"] == 1


async def test_no_store_keeps_nothing(audio_server: AudioServer, fetcher: AudioFetcher) -> None:
    audio_server.routes["/n.wav"] = Route(
        stereo_wav_16k(), etag='"n"', cache_control="no-store, max-age=600"
    )
    url = audio_server.url("/n.wav")
    await fetcher.fetch(url, reach=Reach.PRIVATE)
    await fetcher.fetch(url, reach=Reach.PRIVATE)
    assert audio_server.requests["/n.wav"] == 2
    assert audio_server.conditional.get("/n.wav", 0) == 0


def test_cache_control_parsing() -> None:
    parsed = CacheControl.parse('public, max-age="120", no-cache')
    assert parsed == CacheControl(max_age=120.0, no_store=False, no_cache=True)
    assert CacheControl.parse("max-age=abc").max_age is None
    assert CacheControl.parse("").max_age is None


async def test_concurrent_fetches_share_one_request(
    audio_server: AudioServer, fetcher: AudioFetcher
) -> None:
    audio_server.routes["/s.wav"] = Route(stereo_wav_16k(), etag='"s"')
    url = audio_server.url("/s.wav")
    results = await asyncio.gather(*(fetcher.fetch(url, reach=Reach.PRIVATE) for _ in range(4)))
    assert audio_server.requests["/s.wav"] == 1
    assert all(np.array_equal(results[0], r) for r in results)
