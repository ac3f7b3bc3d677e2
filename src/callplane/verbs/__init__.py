"""Verb executors, one module per verb, dispatched through one explicit table."""

from __future__ import annotations

from callplane.markup import verbs as v
from callplane.verbs import (
    conference,
    dial,
    dtmf,
    get_input,
    hangup,
    play,
    pre_answer,
    record,
    redirect,
    reject,
    speak,
    stream,
    wait,
)
from callplane.verbs.base import Executor

EXECUTORS: dict[type, Executor] = {
    v.Reject: reject.run,
    v.Hangup: hangup.run,
    v.Redirect: redirect.run,
    v.Speak: speak.run,
    v.Play: play.run,
    v.Wait: wait.run,
    v.GetInput: get_input.run,
    v.Record: record.run,
    v.PreAnswer: pre_answer.run,
    v.Dtmf: dtmf.run,
    v.Dial: dial.run,
    v.Conference: conference.run,
    v.Stream: stream.run,
    v.StopStream: stream.stop,
}

# Verbs parsed and validated today whose execution lands with the messaging work.
PENDING: dict[type, str] = {
    v.Message: "Message needs messaging",
}
