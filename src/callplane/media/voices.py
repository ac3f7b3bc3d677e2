"""Plivo and Twilio voice/language attributes -> (language tag, gender) -> espeak-ng voice.

Plivo ``<Speak voice="WOMAN|MAN|Polly.Name" language="en-US">``; Twilio
``<Say voice="man|woman|alice|Polly.Name[-Neural]|Google.xx-YY-...">``. A Polly
or Google voice carries its own language, which wins over ``language`` (as
Twilio documents). Languages are matched case-insensitively, ``_`` or ``-``.
Regional variants espeak-ng lacks (en-AU, fr-CA ...) use the closest voice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callplane.media.errors import TtsError


class Gender(enum.Enum):
    FEMALE = "female"
    MALE = "male"


# espeak-ng variants; men use the language's default (male) voice.
VARIANTS = {Gender.FEMALE: "+f3", Gender.MALE: ""}

GENERIC_VOICES = {
    "woman": Gender.FEMALE,
    "alice": Gender.FEMALE,
    "man": Gender.MALE,
    "": Gender.FEMALE,
}

# Language tag (lower case) -> espeak-ng voice. Plivo's and Twilio's tags, plus bare codes.
LANGUAGES: dict[str, str] = {
    "en": "en-us", "en-us": "en-us", "en-ca": "en-us",
    "en-gb": "en-gb", "en-uk": "en-gb", "en-au": "en-gb", "en-in": "en-gb", "en-ie": "en-gb",
    "en-nz": "en-gb", "en-za": "en-gb", "en-gb-wls": "en-gb",
    "es": "es", "es-es": "es", "es-us": "es-419", "es-mx": "es-419", "es-419": "es-419",
    "fr": "fr-fr", "fr-fr": "fr-fr", "fr-ca": "fr-fr", "fr-be": "fr-be", "fr-ch": "fr-ch",
    "de": "de", "de-de": "de", "de-at": "de", "de-ch": "de",
    "it": "it", "it-it": "it",
    "pt": "pt", "pt-pt": "pt", "pt-br": "pt-br",
    "nl": "nl", "nl-nl": "nl", "nl-be": "nl",
    "da": "da", "da-dk": "da", "sv": "sv", "sv-se": "sv", "nb": "nb", "nb-no": "nb",
    "no": "nb", "fi": "fi", "fi-fi": "fi", "is": "is", "is-is": "is",
    "pl": "pl", "pl-pl": "pl", "cs": "cs", "cs-cz": "cs", "sk": "sk", "sk-sk": "sk",
    "hu": "hu", "hu-hu": "hu", "ro": "ro", "ro-ro": "ro", "bg": "bg", "bg-bg": "bg",
    "el": "el", "el-gr": "el", "ru": "ru", "ru-ru": "ru", "uk": "uk", "uk-ua": "uk",
    "tr": "tr", "tr-tr": "tr", "cy": "cy", "cy-gb": "cy", "ca": "ca", "ca-es": "ca",
    "ar": "ar", "arb": "ar", "arabic": "ar", "ar-ae": "ar", "ar-sa": "ar",
    "he": "he", "he-il": "he", "hi": "hi", "hi-in": "hi", "ja": "ja", "ja-jp": "ja",
    "ko": "ko", "ko-kr": "ko", "zh": "cmn", "cmn": "cmn", "zh-cn": "cmn", "cmn-cn": "cmn",
    "zh-tw": "cmn", "zh-hk": "yue", "yue": "yue", "yue-cn": "yue",
    "id": "id", "id-id": "id", "ms": "ms", "ms-my": "ms",
    "vi": "vi", "vi-vn": "vi", "th": "th", "th-th": "th", "ta-in": "ta", "te-in": "te",
    "bn-in": "bn", "gu-in": "gu", "mr-in": "mr", "kn-in": "kn", "ml-in": "ml",
}  # fmt: skip

F, M = Gender.FEMALE, Gender.MALE

# Amazon Polly voices Plivo and Twilio accept ("Polly.Joanna") -> (language, gender).
POLLY_VOICES: dict[str, tuple[str, Gender]] = {
    "joanna": ("en-us", F), "salli": ("en-us", F), "kendra": ("en-us", F),
    "kimberly": ("en-us", F), "ivy": ("en-us", F), "ruth": ("en-us", F), "danielle": ("en-us", F),
    "matthew": ("en-us", M), "justin": ("en-us", M), "joey": ("en-us", M), "kevin": ("en-us", M),
    "stephen": ("en-us", M), "gregory": ("en-us", M),
    "amy": ("en-gb", F), "emma": ("en-gb", F), "brian": ("en-gb", M), "arthur": ("en-gb", M),
    "nicole": ("en-au", F), "olivia": ("en-au", F), "russell": ("en-au", M),
    "aditi": ("en-in", F), "raveena": ("en-in", F), "kajal": ("en-in", F),
    "geraint": ("en-gb-wls", M), "gwyneth": ("cy-gb", F), "niamh": ("en-ie", F),
    "conchita": ("es-es", F), "lucia": ("es-es", F), "enrique": ("es-es", M),
    "penelope": ("es-us", F), "lupe": ("es-us", F), "miguel": ("es-us", M), "mia": ("es-mx", F),
    "celine": ("fr-fr", F), "lea": ("fr-fr", F), "mathieu": ("fr-fr", M),
    "chantal": ("fr-ca", F), "gabrielle": ("fr-ca", F),
    "vicki": ("de-de", F), "marlene": ("de-de", F), "hans": ("de-de", M), "daniel": ("de-de", M),
    "carla": ("it-it", F), "bianca": ("it-it", F), "giorgio": ("it-it", M),
    "vitoria": ("pt-br", F), "camila": ("pt-br", F), "ricardo": ("pt-br", M),
    "ines": ("pt-pt", F), "cristiano": ("pt-pt", M),
    "lotte": ("nl-nl", F), "ruben": ("nl-nl", M), "naja": ("da-dk", F), "mads": ("da-dk", M),
    "astrid": ("sv-se", F), "liv": ("nb-no", F), "dora": ("is-is", F), "karl": ("is-is", M),
    "ewa": ("pl-pl", F), "maja": ("pl-pl", F), "jacek": ("pl-pl", M), "jan": ("pl-pl", M),
    "carmen": ("ro-ro", F), "tatyana": ("ru-ru", F), "maxim": ("ru-ru", M),
    "filiz": ("tr-tr", F), "zeina": ("arb", F), "mizuki": ("ja-jp", F), "takumi": ("ja-jp", M),
    "seoyeon": ("ko-kr", F), "zhiyu": ("cmn-cn", F),
}  # fmt: skip

_POLLY_SUFFIXES = ("-neural", "-generative", "-longform")


@dataclass(frozen=True, slots=True)
class ResolvedVoice:
    """What a voice/language pair resolved to; ``espeak_voice`` is the ``-v`` argument."""

    language: str
    gender: Gender
    espeak_voice: str


def supported_languages() -> list[str]:
    """Every language tag accepted, sorted."""
    return sorted(LANGUAGES)


def resolve_voice(voice: str, language: str) -> ResolvedVoice:
    """Map a markup ``voice`` and ``language`` to an espeak-ng voice, or raise ``TtsError``."""
    language, gender = _language_and_gender(voice.strip(), normalize_language(language))
    espeak = LANGUAGES.get(language)
    if espeak is None:
        raise TtsError(
            f"language {language!r} is not supported; supported: {', '.join(supported_languages())}"
        )
    return ResolvedVoice(language, gender, espeak + VARIANTS[gender])


def normalize_language(language: str) -> str:
    """``"en_US"`` / ``"EN-us"`` -> ``"en-us"``; empty means ``"en-us"``, both dialects' default."""
    return language.strip().replace("_", "-").lower() or "en-us"


def _language_and_gender(voice: str, language: str) -> tuple[str, Gender]:
    lowered = voice.lower()
    if lowered in GENERIC_VOICES:
        return language, GENERIC_VOICES[lowered]
    if lowered.startswith("polly."):
        return _polly(voice)
    if lowered.startswith("google."):
        return _google(voice)
    raise TtsError(f"voice {voice!r} is not supported; use WOMAN, MAN, alice, Polly.<Name>")


def _polly(voice: str) -> tuple[str, Gender]:
    name = voice.split(".", 1)[1].lower()
    for suffix in _POLLY_SUFFIXES:
        name = name.removesuffix(suffix)
    try:
        return POLLY_VOICES[name]
    except KeyError:
        raise TtsError(
            f"voice {voice!r} is not a known Polly voice; known: {', '.join(sorted(POLLY_VOICES))}"
        ) from None


def _google(voice: str) -> tuple[str, Gender]:
    """``Google.en-US-Standard-C``: the language is in the name; the gender is not."""
    parts = voice.split(".", 1)[1].split("-")
    if len(parts) < 2:
        raise TtsError(f"voice {voice!r}: expected Google.<lang>-<REGION>-<type>-<letter>")
    return normalize_language(f"{parts[0]}-{parts[1]}"), Gender.FEMALE
