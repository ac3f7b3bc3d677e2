"""Verb executors, one module per verb, dispatched through one explicit table."""

from __future__ import annotations

from callplane.markup import verbs as v
from callplane.verbs import hangup, redirect, reject
from callplane.verbs.base import Executor

EXECUTORS: dict[type, Executor] = {
    v.Reject: reject.run,
    v.Hangup: hangup.run,
    v.Redirect: redirect.run,
}

# Verbs parsed and validated today whose execution lands with the media and dial work.
PENDING: dict[type, str] = {
    v.Speak: "Speak/Say needs answered-call media (TTS)",
    v.Play: "Play needs answered-call media",
    v.Wait: "Wait/Pause needs answered-call media",
    v.GetInput: "GetInput/Gather needs answered-call media (DTMF)",
    v.Record: "Record needs answered-call media",
    v.Dial: "Dial needs outbound legs and bridging",
    v.PreAnswer: "PreAnswer needs early media (183)",
    v.Conference: "Conference needs the conference mixer",
    v.Dtmf: "DTMF needs answered-call media",
    v.Message: "Message needs messaging",
}
