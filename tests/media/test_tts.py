from __future__ import annotations

import asyncio
import io
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from callplane.media.errors import TtsError
from callplane.media.pcm import SAMPLE_RATE, rms
from callplane.media.tts import CachedTts, EspeakTts, cache_key
from callplane.media.voices import LANGUAGES, POLLY_VOICES, Gender, resolve_voice

SENTENCE = "Hello, thank you for calling."


async def test_espeak_speaks_a_short_sentence() -> None:
    engine = EspeakTts()
    speech = await engine.synthesize(SENTENCE, "WOMAN", "en-US")
    assert speech.dtype == np.int16
    assert rms(speech) > 500
    assert 0.5 < len(speech) / SAMPLE_RATE < 5.0
    assert engine.runs == 1


async def test_output_is_resampled_to_8khz() -> None:
    """Same duration as espeak-ng's own WAV (22050 Hz) read at its native rate."""
    resolved = resolve_voice("WOMAN", "en-US")
    argv = ["espeak-ng", "-v", resolved.espeak_voice, "-s", "150", "--stdout", SENTENCE]
    native = subprocess.run(argv, capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(native)) as wav:
        rate = wav.getframerate()
        native_seconds = len(wav.readframes(wav.getnframes())) / 2 / rate
    speech = await EspeakTts().synthesize(SENTENCE, "WOMAN", "en-US")
    assert rate != SAMPLE_RATE
    assert len(speech) / SAMPLE_RATE == pytest.approx(native_seconds, rel=0.01)


@pytest.mark.parametrize(
    ("voice", "language"),
    [("MAN", "en-GB"), ("woman", "es-ES"), ("alice", "pt-BR"), ("Polly.Hans", "")],
)
async def test_other_voices_and_languages_speak(voice: str, language: str) -> None:
    speech = await EspeakTts().synthesize("Uno dos tres", voice, language)
    assert rms(speech) > 500


async def test_unknown_language_is_a_clear_error() -> None:
    engine = EspeakTts()
    with pytest.raises(TtsError) as info:
        await engine.synthesize(SENTENCE, "WOMAN", "xx-YY")
    assert "'xx-yy' is not supported" in str(info.value)
    assert "en-us" in str(info.value) and "fr-fr" in str(info.value)
    assert engine.runs == 0


async def test_unknown_voices_are_errors() -> None:
    with pytest.raises(TtsError, match="Polly voice"):
        await EspeakTts().synthesize(SENTENCE, "Polly.Nobody", "en-US")
    with pytest.raises(TtsError, match="not supported"):
        await EspeakTts().synthesize(SENTENCE, "robot", "en-US")


async def test_blank_text_is_empty_audio_without_a_process() -> None:
    engine = EspeakTts()
    assert len(await engine.synthesize("  ", "WOMAN", "en-US")) == 0
    assert engine.runs == 0


async def test_missing_executable_is_a_tts_error() -> None:
    with pytest.raises(TtsError, match="cannot run"):
        await EspeakTts(executable="/nonexistent/espeak-ng").synthesize("hi", "MAN", "en-US")


@pytest.mark.parametrize(
    ("voice", "language", "espeak", "gender"),
    [
        ("WOMAN", "en-US", "en-us+f3", Gender.FEMALE),
        ("MAN", "en-US", "en-us", Gender.MALE),
        ("man", "en-gb", "en-gb", Gender.MALE),
        ("woman", "fr_FR", "fr-fr+f3", Gender.FEMALE),
        ("alice", "de-DE", "de+f3", Gender.FEMALE),
        ("", "", "en-us+f3", Gender.FEMALE),
        ("Polly.Joanna", "fr-FR", "en-us+f3", Gender.FEMALE),
        ("Polly.Matthew-Neural", "en-US", "en-us", Gender.MALE),
        ("Polly.Conchita", "en-US", "es+f3", Gender.FEMALE),
        ("Polly.Ricardo", "", "pt-br", Gender.MALE),
        ("Polly.Mizuki", "", "ja+f3", Gender.FEMALE),
        ("Google.it-IT-Standard-A", "", "it+f3", Gender.FEMALE),
        ("WOMAN", "es-US", "es-419+f3", Gender.FEMALE),
        ("MAN", "arabic", "ar", Gender.MALE),
    ],
)
def test_voice_mapping(voice: str, language: str, espeak: str, gender: Gender) -> None:
    resolved = resolve_voice(voice, language)
    assert (resolved.espeak_voice, resolved.gender) == (espeak, gender)


def test_every_polly_voice_resolves() -> None:
    for name in POLLY_VOICES:
        assert resolve_voice(f"Polly.{name.title()}", "").espeak_voice


def test_every_mapped_espeak_voice_exists() -> None:
    listed = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout
    available = {line.split()[1] for line in listed.splitlines()[1:]}
    assert set(LANGUAGES.values()) <= available


async def test_cache_hit_runs_no_second_process(tmp_path: Path) -> None:
    engine = EspeakTts()
    cached = CachedTts(engine, tmp_path)
    first = await cached.synthesize(SENTENCE, "WOMAN", "en-US")
    second = await cached.synthesize(SENTENCE, "WOMAN", "en-US")
    assert engine.runs == 1
    assert np.array_equal(first, second)
    assert not second.flags.writeable
    await cached.synthesize(SENTENCE, "MAN", "en-US")
    assert engine.runs == 2


async def test_disk_cache_survives_a_restart(tmp_path: Path) -> None:
    first = await CachedTts(EspeakTts(), tmp_path).synthesize(SENTENCE, "WOMAN", "en-US")
    fresh_engine = EspeakTts()
    again = await CachedTts(fresh_engine, tmp_path).synthesize(SENTENCE, "WOMAN", "en-US")
    assert fresh_engine.runs == 0
    assert np.array_equal(first, again)
    key = cache_key("espeak-ng", "WOMAN", "en-US", SENTENCE)
    assert (tmp_path / key[:2] / f"{key}.pcm").stat().st_size == 2 * len(first)


async def test_concurrent_requests_synthesize_once(tmp_path: Path) -> None:
    engine = EspeakTts()
    cached = CachedTts(engine, tmp_path)
    results = await asyncio.gather(*(cached.synthesize(SENTENCE, "MAN", "en-GB") for _ in range(5)))
    assert engine.runs == 1
    assert all(np.array_equal(results[0], r) for r in results)


async def test_memory_lru_evicts_to_disk(tmp_path: Path) -> None:
    engine = EspeakTts()
    cached = CachedTts(engine, tmp_path, memory_items=1)
    await cached.synthesize("one", "MAN", "en-US")
    await cached.synthesize("two", "MAN", "en-US")
    await cached.synthesize("one", "MAN", "en-US")
    assert engine.runs == 2
    assert len(cached._memory) == 1


async def test_errors_are_not_cached(tmp_path: Path) -> None:
    cached = CachedTts(EspeakTts(), tmp_path)
    for _ in range(2):
        with pytest.raises(TtsError):
            await cached.synthesize(SENTENCE, "WOMAN", "xx")


def test_cache_key_separates_fields() -> None:
    assert cache_key("e", "a", "b", "c") != cache_key("e", "a", "bc", "")
