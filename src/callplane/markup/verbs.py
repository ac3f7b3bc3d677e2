"""The one verb model every dialect compiles to.

Frozen dataclasses shared by Plivo XML, TwiML/RCML and VoXML. Conventions:

* times are seconds (``int``, or ``float`` where a dialect gives milliseconds);
  ``None`` for a timeout means "no limit" or "auto" as the field says;
* booleans are ``bool``; URLs are ``str`` and ``""`` when absent;
  HTTP methods are ``"GET"`` or ``"POST"``;
* defaults are Plivo's documented defaults. A compiler for another dialect
  passes its own dialect's defaults explicitly (TwiML ``<Gather timeout>`` is 5,
  ``<Record maxLength>`` is 3600, ...), so an executor never needs to know the
  dialect to get the behaviour the customer was promised.

A ``Reject`` never answers the call and is never billed. Plivo has no
``<Reject>``: its compiler emits ``Reject`` when ``<Hangup>`` (without
``schedule``) is the first element of the ``<Response>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from callplane.reject_reasons import RejectReason


class Dialect(StrEnum):
    PLIVO = "plivo"
    TWIML = "twiml"
    VOXML = "voxml"


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the call without answering it (SIP code from ``reject_reasons.REJECT_SIP``)."""

    reason: RejectReason = RejectReason.REJECTED


@dataclass(frozen=True, slots=True)
class Hangup:
    """End an answered call.

    With ``schedule`` (seconds) the hangup is only scheduled and the document
    goes on with the next verb (Plivo); without it the document ends here.
    ``reason`` is informative (Plivo/VoXML ``reason``), ``None`` when absent.
    """

    reason: str | None = None
    schedule: int | None = None


@dataclass(frozen=True, slots=True)
class Speak:
    """Text to speech. ``loop`` 0 repeats until the call ends.

    ``ssml`` holds the inner markup when the element nested SSML tags
    (``<break>``, ``<prosody>`` ...); ``text`` is always the plain text.
    """

    text: str
    voice: str = "WOMAN"
    language: str = "en-US"
    loop: int = 1
    ssml: str = ""


@dataclass(frozen=True, slots=True)
class Play:
    """Play an audio URL. ``loop`` 0 repeats until the call ends."""

    url: str
    loop: int = 1


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait ``length`` seconds; with ``silence`` stop early after ``min_silence`` s of quiet."""

    length: int = 1
    silence: bool = False
    min_silence: float = 2.0
    beep: bool = False


Prompt = Speak | Play | Wait


@dataclass(frozen=True, slots=True)
class GetInput:
    """Collect DTMF and/or speech (Plivo GetInput/GetDigits, TwiML Gather).

    ``execution_timeout``: seconds to wait for input once the prompts ended.
    ``digit_end_timeout`` / ``speech_end_timeout``: seconds of inactivity that
    end the input; ``None`` means "auto" (the executor chooses). ``num_digits``
    ``None`` means no limit. ``action`` ``""`` means "no action URL".
    """

    action: str = ""
    method: str = "POST"
    input_type: str = "dtmf"
    execution_timeout: int = 15
    digit_end_timeout: int | None = None
    speech_end_timeout: int | None = None
    finish_on_key: str = "#"
    num_digits: int | None = None
    valid_digits: str = "1234567890*#"
    retries: int = 1
    play_beep: bool = False
    invalid_digits_sound: str = ""
    redirect: bool = True
    log: bool = True
    language: str = "en-US"
    hints: str = ""
    speech_model: str = "default"
    profanity_filter: bool = False
    action_on_empty_result: bool = False
    interim_speech_results_callback: str = ""
    interim_speech_results_callback_method: str = "POST"
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller (or, with ``record_session``, the whole call in background)."""

    action: str = ""
    method: str = "POST"
    file_format: str = "mp3"
    max_length: int = 60
    timeout: int = 15
    finish_on_key: str = "#"
    play_beep: bool = True
    record_session: bool = False
    start_on_dial_answer: bool = False
    redirect: bool = True
    trim_silence: bool = False
    record_channel_type: str = "stereo"
    callback_url: str = ""
    callback_method: str = "POST"
    transcription_type: str = ""
    transcription_url: str = ""
    transcription_method: str = "POST"


@dataclass(frozen=True, slots=True)
class DialNumber:
    number: str
    send_digits: str = ""
    send_on_preanswer: bool = False


@dataclass(frozen=True, slots=True)
class DialUser:
    """A SIP endpoint registered with us (Plivo ``<User>sip:alice@...</User>``)."""

    uri: str
    send_digits: str = ""
    send_on_preanswer: bool = False
    sip_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DialSip:
    """Any SIP URI, optionally with digest credentials (TwiML ``<Sip>``)."""

    uri: str
    username: str = ""
    password: str = ""


@dataclass(frozen=True, slots=True)
class DialClient:
    """A named client identity (TwiML ``<Client>``)."""

    identity: str


DialTarget = DialNumber | DialUser | DialSip | DialClient


@dataclass(frozen=True, slots=True)
class Dial:
    """Call the targets at once; bridge the first that answers.

    ``timeout`` ``None``: ring until the far end gives up (Plivo has no default).
    ``dial_music``: ``""`` (the caller hears 180), a URL of a Play/Speak/Wait
    document, or ``"real"`` (the callee's early media). ``record``: record the
    bridged call in the background (TwiML ``record``), reported to
    ``recording_callback_url``.
    """

    targets: tuple[DialTarget, ...] = ()
    action: str = ""
    method: str = "POST"
    redirect: bool = True
    timeout: int | None = None
    time_limit: int = 14400
    caller_id: str = ""
    caller_name: str = ""
    hangup_on_star: bool = False
    confirm_sound: str = ""
    confirm_key: str = ""
    confirm_timeout: int = 120
    dial_music: str = ""
    callback_url: str = ""
    callback_method: str = "POST"
    sip_headers: dict[str, str] = field(default_factory=dict)
    digits_match: str = ""
    digits_match_b_leg: str = ""
    record: bool = False
    recording_callback_url: str = ""
    recording_callback_method: str = "POST"


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Conference:
    """Join the named room (Plivo ``<Conference>``, TwiML ``<Dial><Conference>``).

    ``enter_sound`` / ``exit_sound``: ``""``, ``"beep:1"``, ``"beep:2"`` or a URL.
    """

    name: str
    muted: bool = False
    enter_sound: str = ""
    exit_sound: str = ""
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    stay_alone: bool = True
    wait_sound: str = ""
    wait_method: str = "POST"
    max_members: int = 20
    record: bool = False
    record_file_format: str = "mp3"
    record_when_alone: bool = False
    time_limit: int = 86400
    hangup_on_star: bool = False
    action: str = ""
    method: str = "POST"
    redirect: bool = True
    callback_url: str = ""
    callback_method: str = "POST"
    digits_match: str = ""
    floor_event: bool = False
    relay_dtmf: bool = True
    send_digits: str = ""
    transcription_type: str = ""
    transcription_url: str = ""
    transcription_method: str = "POST"


@dataclass(frozen=True, slots=True)
class Dtmf:
    """Send DTMF digits (``w``/``W`` pause 0.5 s / 1 s). ``async_``: don't wait for them."""

    digits: str
    async_: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    """Send a text message during the call."""

    text: str
    src: str = ""
    dst: str = ""
    type: str = "sms"
    callback_url: str = ""
    callback_method: str = "POST"


@dataclass(frozen=True, slots=True)
class Stream:
    """The call's audio to a WebSocket (a voice agent), and with ``bidirectional`` back.

    ``protocol`` is whose WebSocket messages to speak (``"plivo"`` or ``"twilio"``).
    ``blocking``: the document waits here until the socket closes (Plivo
    ``keepCallAlive``, TwiML ``<Connect>``); otherwise the stream runs beside the
    next verbs (a fork) until the call ends, ``stream_timeout`` passes or a
    ``StopStream`` names it. ``audio_track``: ``inbound`` (the caller),
    ``outbound`` (what the call plays) or ``both``. ``content_type`` is the
    audio both ways: ``audio/x-l16;rate=8000|16000`` or ``audio/x-mulaw;rate=8000``.
    ``action``: TwiML ``<Connect action>``, fetched when the socket closes.
    """

    url: str
    protocol: str = "plivo"
    bidirectional: bool = False
    blocking: bool = False
    audio_track: str = "inbound"
    stream_timeout: int = 86400
    content_type: str = "audio/x-l16;rate=8000"
    status_callback_url: str = ""
    status_callback_method: str = "POST"
    extra_headers: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    name: str = ""
    action: str = ""
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class StopStream:
    """Stop the call's forked streams: the one called ``name``, or all (TwiML ``<Stop>``)."""

    name: str = ""


EarlyVerb = Speak | Play | Wait | GetInput | Redirect | Message | Dtmf


@dataclass(frozen=True, slots=True)
class PreAnswer:
    """Verbs played as early media (183 Session Progress) before answering."""

    verbs: tuple[EarlyVerb, ...] = ()


Verb = (
    Reject
    | Hangup
    | Speak
    | Play
    | Wait
    | GetInput
    | Record
    | Dial
    | Redirect
    | PreAnswer
    | Conference
    | Dtmf
    | Message
    | Stream
    | StopStream
)


@dataclass(frozen=True, slots=True)
class Document:
    """A compiled answer document: which dialect it came from, its verbs, and the URL
    it was fetched from (``""`` when it was not fetched), against which its relative
    URLs were resolved (``markup/urls.py``)."""

    dialect: Dialect
    verbs: tuple[Verb, ...] = ()
    base_url: str = ""


def is_terminal(verb: Verb) -> bool:
    """True for the verbs after which a document ends (Reject, unscheduled Hangup)."""
    if isinstance(verb, Reject):
        return True
    return isinstance(verb, Hangup) and verb.schedule is None
