"""Text to speech: a ``TtsEngine`` protocol, the espeak-ng engine, and a cache in front.

Every engine returns 8 kHz mono int16 PCM. The call layer only sees the
protocol, so engines are interchangeable::

    engine = CachedTts(EspeakTts(), cache_dir)
    pcm = await engine.synthesize("Hello", voice="WOMAN", language="en-US")

Adding a neural engine (Piper, say) later means one class with a ``name``
(part of the cache key, so give each model its own, e.g. ``"piper:en_US-amy"``)
and ``async synthesize(text, voice, language)`` that resolves the voice with
``voices.resolve_voice`` (or its own table of models per language/gender), runs
the model in a worker thread or subprocess (``piper --output_file -``), decodes
with ``decode.decode_audio`` and returns 8 kHz mono int16. Wrap it in
``CachedTts`` exactly as above; nothing else changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from callplane.media.decode import decode_audio, read_only
from callplane.media.errors import AudioDecodeError, TtsError
from callplane.media.pcm import Pcm
from callplane.media.singleflight import SingleFlight
from callplane.media.voices import resolve_voice


class TtsEngine(Protocol):
    """Turns text into 8 kHz mono int16 PCM."""

    name: str

    async def synthesize(self, text: str, voice: str, language: str) -> Pcm: ...


class EspeakTts:
    """espeak-ng in a subprocess, text on stdin, WAV on stdout.

    ``runs`` counts the processes started (the cache tests rely on it).
    150 words a minute is a little slower than espeak's 175, easier to follow
    over a narrowband line.
    """

    name = "espeak-ng"

    def __init__(
        self, executable: str = "espeak-ng", words_per_minute: int = 150, timeout: float = 30.0
    ) -> None:
        self.executable = executable
        self.words_per_minute = words_per_minute
        self.timeout = timeout
        self.runs = 0

    async def synthesize(self, text: str, voice: str, language: str) -> Pcm:
        resolved = resolve_voice(voice, language)
        if not text.strip():
            return np.zeros(0, dtype=np.int16)
        wav = await self._run(resolved.espeak_voice, text)
        try:
            return decode_audio(wav)
        except AudioDecodeError as exc:
            raise TtsError(f"espeak-ng produced unreadable audio: {exc}") from exc

    def _argv(self, espeak_voice: str) -> list[str]:
        wpm = str(self.words_per_minute)
        return [self.executable, "-v", espeak_voice, "-s", wpm, "--stdin", "--stdout"]

    async def _run(self, espeak_voice: str, text: str) -> bytes:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv(espeak_voice),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TtsError(f"cannot run {self.executable}: {exc}") from exc
        self.runs += 1
        return await self._communicate(proc, text)

    async def _communicate(self, proc: asyncio.subprocess.Process, text: str) -> bytes:
        try:
            out, err = await asyncio.wait_for(proc.communicate(text.encode()), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise TtsError(f"{self.executable} took longer than {self.timeout} s") from None
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise TtsError(f"{self.executable} exited with {proc.returncode}: {message}")
        return out


class CachedTts:
    """A ``TtsEngine`` that remembers: in memory (LRU) and on disk (raw int16).

    The key is sha256 of (engine name, voice, language, text). Concurrent
    requests for one key share a single synthesis. Returned arrays are
    read-only: they are shared by every call that speaks the same text.
    """

    def __init__(self, engine: TtsEngine, cache_dir: Path | str, memory_items: int = 256) -> None:
        self.engine = engine
        self.name = engine.name
        self.cache_dir = Path(cache_dir)
        self.memory_items = memory_items
        self._memory: OrderedDict[str, Pcm] = OrderedDict()
        self._flight: SingleFlight[str, Pcm] = SingleFlight()

    async def synthesize(self, text: str, voice: str, language: str) -> Pcm:
        key = cache_key(self.engine.name, voice, language, text)
        cached = self._remember(key)
        if cached is not None:
            return cached
        return await self._flight.run(
            key, lambda: self._load_or_synthesize(key, text, voice, language)
        )

    def _remember(self, key: str) -> Pcm | None:
        pcm = self._memory.get(key)
        if pcm is not None:
            self._memory.move_to_end(key)
        return pcm

    def _store_in_memory(self, key: str, pcm: Pcm) -> None:
        self._memory[key] = pcm
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    async def _load_or_synthesize(self, key: str, text: str, voice: str, language: str) -> Pcm:
        path = self.cache_dir / key[:2] / f"{key}.pcm"
        pcm = await asyncio.to_thread(_read_pcm, path)
        if pcm is None:
            pcm = await self.engine.synthesize(text, voice, language)
            await asyncio.to_thread(_write_pcm, path, pcm)
        pcm = read_only(pcm)
        self._store_in_memory(key, pcm)
        return pcm


def cache_key(engine: str, voice: str, language: str, text: str) -> str:
    """sha256 over the four parts, NUL-separated so that no two tuples collide."""
    joined = "\0".join((engine, voice, language, text))
    return hashlib.sha256(joined.encode()).hexdigest()


def _read_pcm(path: Path) -> Pcm | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def _write_pcm(path: Path, pcm: Pcm) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{secrets.token_hex(6)}.tmp")
    tmp.write_bytes(pcm.astype("<i2").tobytes())
    os.replace(tmp, path)
