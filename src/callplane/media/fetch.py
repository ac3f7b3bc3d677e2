"""Fetch audio for ``<Play>`` URLs: HTTP GET with a validator cache, decoded to 8 kHz mono.

Each URL's last good response is kept on disk under ``cache_dir`` as three
files named by sha256(url): ``.json`` (ETag, Last-Modified, Content-Type,
when fetched, Cache-Control max-age), ``.body`` (the bytes as served) and
``.pcm`` (decoded raw int16, so a revalidated hit costs no decoding).

* fresh by ``Cache-Control: max-age`` -> no request at all;
* otherwise a conditional GET (``If-None-Match`` / ``If-Modified-Since``);
  304 -> the cached audio, with its freshness renewed;
* ``no-store`` -> nothing kept; ``no-cache`` -> always revalidated.

``Expires`` and ``Vary`` are not interpreted. Concurrent fetches of one URL
share a single request.

Requests pass the outbound request policy for the account's
:class:`~callplane.webhooks.ssrf.Reach`; audio fetched with the private reach is
cached apart (``private/``), so an account without it never gets that audio
from the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

import httpx
import numpy as np

from callplane.media.decode import decode_audio, read_only
from callplane.media.errors import AudioDecodeError, FetchError
from callplane.media.pcm import Pcm
from callplane.media.singleflight import SingleFlight
from callplane.webhooks.checked_httpx import RefusedRequest, checked_client
from callplane.webhooks.ssrf import REFUSED, OutboundPolicy, Reach

MiB = 1024 * 1024
NOT_AUDIO_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(slots=True)
class CacheEntry:
    """What we know about a URL's last 200 response."""

    url: str
    etag: str | None
    last_modified: str | None
    content_type: str
    fetched_at: float
    max_age: float | None
    no_cache: bool

    def is_fresh(self, now: float) -> bool:
        if self.max_age is None or self.no_cache:
            return False
        return now < self.fetched_at + self.max_age

    def validators(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class CacheControl:
    max_age: float | None = None
    no_store: bool = False
    no_cache: bool = False

    @classmethod
    def parse(cls, value: str) -> CacheControl:
        directives = {}
        for part in value.split(","):
            name, _, arg = part.strip().partition("=")
            directives[name.strip().lower()] = arg.strip().strip('"')
        return cls(
            max_age=_seconds(directives.get("max-age")),
            no_store="no-store" in directives,
            no_cache="no-cache" in directives,
        )


class AudioFetcher:
    """``await fetcher.fetch(url, reach=...)`` -> 8 kHz mono int16 (read-only), or
    ``FetchError``."""

    def __init__(
        self,
        cache_dir: Path | str,
        max_bytes: int = 20 * MiB,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        policy: OutboundPolicy | None = None,
    ) -> None:
        root = Path(cache_dir)
        self.stores = {Reach.PUBLIC: _DiskStore(root), Reach.PRIVATE: _DiskStore(root / "private")}
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._clock = clock
        checks = policy or OutboundPolicy()
        self._clients = {reach: checked_client(checks, reach) for reach in Reach}
        self._flight: SingleFlight[tuple[Reach, str], Pcm] = SingleFlight()

    async def fetch(self, url: str, *, reach: Reach) -> Pcm:
        if not url.lower().startswith(("http://", "https://")):
            raise FetchError(url, "only http:// and https:// URLs can be played")
        return await self._flight.run((reach, url), lambda: self._fetch(url, reach))

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def __aenter__(self) -> AudioFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _fetch(self, url: str, reach: Reach) -> Pcm:
        store = self.stores[reach]
        entry = await asyncio.to_thread(store.load, url)
        if entry is not None and entry.is_fresh(self._clock()):
            cached = await asyncio.to_thread(store.load_pcm, url)
            if cached is not None:
                return read_only(cached)
            entry = None
        headers = entry.validators() if entry else {}
        response = await self._get(url, headers, self._clients[reach])
        if response.status_code == 304:
            return await self._revalidated(url, entry, response, store)
        return await self._fresh(url, response, store)

    async def _revalidated(
        self, url: str, entry: CacheEntry | None, response: _Response, store: _DiskStore
    ) -> Pcm:
        pcm = await asyncio.to_thread(store.load_pcm, url)
        if entry is None or pcm is None:
            raise FetchError(url, "got 304 Not Modified for a request that was not conditional")
        control = CacheControl.parse(response.headers.get("cache-control", ""))
        entry.fetched_at = self._fetched_at(response.headers)
        entry.max_age = control.max_age if control.max_age is not None else entry.max_age
        await asyncio.to_thread(store.save_meta, entry)
        return read_only(pcm)

    async def _fresh(self, url: str, response: _Response, store: _DiskStore) -> Pcm:
        content_type = _content_type(response.headers)
        pcm = _decode(url, content_type, response.body)
        control = CacheControl.parse(response.headers.get("cache-control", ""))
        if not control.no_store:
            entry = CacheEntry(
                url=url,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                content_type=content_type,
                fetched_at=self._fetched_at(response.headers),
                max_age=control.max_age,
                no_cache=control.no_cache,
            )
            await asyncio.to_thread(store.save, entry, response.body, pcm)
        return read_only(pcm)

    def _fetched_at(self, headers: httpx.Headers) -> float:
        """Now, less the ``Age`` a shared cache on the way says the response already has."""
        return self._clock() - (_seconds(headers.get("age")) or 0.0)

    async def _get(self, url: str, headers: dict[str, str], client: httpx.AsyncClient) -> _Response:
        try:
            async with client.stream(
                "GET", url, headers=headers, timeout=self.timeout, follow_redirects=True
            ) as resp:
                return await self._read_response(url, resp)
        except RefusedRequest:
            raise FetchError(url, REFUSED) from None
        except httpx.HTTPError as exc:
            raise FetchError(url, f"request failed: {type(exc).__name__}: {exc}") from exc

    async def _read_response(self, url: str, resp: httpx.Response) -> _Response:
        if resp.status_code == 304:
            return _Response(304, resp.headers, b"")
        if not resp.is_success:
            raise FetchError(
                url, f"got HTTP {resp.status_code} {resp.reason_phrase}", resp.status_code
            )
        content_type = _content_type(resp.headers)
        if content_type in NOT_AUDIO_TYPES:
            raise FetchError(url, f"got {content_type}, not audio", resp.status_code)
        return _Response(resp.status_code, resp.headers, await self._read_limited(url, resp))

    async def _read_limited(self, url: str, resp: httpx.Response) -> bytes:
        declared = _seconds(resp.headers.get("content-length"))
        if declared is not None and declared > self.max_bytes:
            raise FetchError(url, f"body of {int(declared)} bytes exceeds {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(url, f"body exceeds {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Response:
    status_code: int
    headers: httpx.Headers
    body: bytes


class _DiskStore:
    """Three files per URL, written atomically; a missing or corrupt file is a miss."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, url: str, suffix: str) -> Path:
        return self.root / f"{hashlib.sha256(url.encode()).hexdigest()}{suffix}"

    def load(self, url: str) -> CacheEntry | None:
        try:
            data = json.loads(self._path(url, ".json").read_text())
            return CacheEntry(**data)
        except (OSError, ValueError, TypeError):
            return None

    def load_pcm(self, url: str) -> Pcm | None:
        try:
            data = self._path(url, ".pcm").read_bytes()
        except OSError:
            return None
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def save(self, entry: CacheEntry, body: bytes, pcm: Pcm) -> None:
        self._write(self._path(entry.url, ".body"), body)
        self._write(self._path(entry.url, ".pcm"), pcm.astype("<i2").tobytes())
        self.save_meta(entry)

    def save_meta(self, entry: CacheEntry) -> None:
        self._write(self._path(entry.url, ".json"), json.dumps(asdict(entry)).encode())

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _decode(url: str, content_type: str, body: bytes) -> Pcm:
    try:
        return decode_audio(body)
    except AudioDecodeError as exc:
        got = content_type or "no Content-Type"
        raise FetchError(url, f"got {got} ({len(body)} bytes) that is not audio: {exc}") from exc


def _content_type(headers: httpx.Headers) -> str:
    value: str = headers.get("content-type", "")
    return value.split(";")[0].strip().lower()


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None
