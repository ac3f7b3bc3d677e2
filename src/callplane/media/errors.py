"""Errors raised by the media layer.

Foreign exceptions (miniaudio, httpx, subprocess, lameenc) are translated here,
once, at the boundary where they happen::

    CallplaneError
     +-- MediaError                  anything the media layer refuses or fails to do
          +-- AudioDecodeError       bytes that are not audio miniaudio can decode
          +-- TtsError               text-to-speech failed (unknown language, engine crash)
          +-- FetchError             a <Play> URL failed (HTTP status, not audio, too large)
          +-- RecordingError         a recording cannot be written (format, encoder missing)
"""

from __future__ import annotations

from callplane.errors import CallplaneError


class MediaError(CallplaneError):
    """Base of every error raised by ``callplane.media``."""


class AudioDecodeError(MediaError):
    """Bytes that do not decode as audio (WAV, MP3, FLAC, Vorbis)."""


class TtsError(MediaError):
    """Speech synthesis failed; the message says why (and lists what is supported)."""


class FetchError(MediaError):
    """Fetching audio from a URL failed.

    ``url`` names the resource; ``status`` is the HTTP status when one was
    received, else ``None`` (connection refused, timeout, bad URL).
    """

    def __init__(self, url: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status
        self.detail = message


class RecordingError(MediaError):
    """A recording cannot be written in the requested format."""
