"""A TwiML application moves to Callplane by changing one URL (issue 15).

The application is written as Twilio's tutorials write one: relative URLs in its
documents (``<Redirect>/next</Redirect>``, ``<Gather action="/gather">``), documents
built with the twilio SDK's ``VoiceResponse``, and every request checked with the
SDK's ``RequestValidator`` (403 when the signature does not match). Real SIP
callers (SIPp, PJSUA2) call a real ``callplane serve``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from callplane.store.ids import twilio_account_sid
from tests.interop.harness import AUTH_ID, AUTH_TOKEN, CallplaneServer, LocalHttp, sipp
from tests.interop.pjua import UserAgent

_numbers = iter(range(15557770000, 15557779999))


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    valid: bool


@dataclass
class TwimlApp(LocalHttp):
    """The customer's TwiML application: documents by path, ``RequestValidator`` on
    every request (403 when invalid), an empty 200 for paths without a document."""

    pages: dict[str, str] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)  # path -> a 302's Location
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        url = f"http://{h.headers['Host']}{h.path}"  # what a framework's request.url gives
        signature = h.headers.get("X-Twilio-Signature", "")
        valid = RequestValidator(AUTH_TOKEN).validate(url, form, signature)
        path = urlsplit(h.path).path
        query = {k: v[-1] for k, v in parse_qs(urlsplit(h.path).query).items()}
        with self.lock:
            self.seen.append(Seen(path, {**query, **form}, valid))
        document = self.pages.get(path, "").encode()
        location = self.moved.get(path)
        h.send_response(403 if not valid else 302 if location else 200)
        if location and valid:
            h.send_header("Location", location)
        h.send_header("Content-Type", "application/xml" if document else "text/plain")
        h.send_header("Content-Length", str(len(document) if valid else 0))
        h.end_headers()
        if valid:
            h.wfile.write(document)

    def wait_for(self, path: str, timeout: float = 15.0) -> Seen:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [s for s in self.seen if s.path == path]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no request to {path}; seen {self.seen}")

    def requests(self, prefix: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path.startswith(prefix)]


@pytest.fixture(scope="module")
def twiml_app() -> Iterator[TwimlApp]:
    app = TwimlApp().start()
    yield app
    app.stop()


def test_relative_redirect_leads_to_a_busy_reject(
    callplane: CallplaneServer, twiml_app: TwimlApp, workdir: Path
) -> None:
    number = str(next(_numbers))
    first, second = VoiceResponse(), VoiceResponse()
    first.redirect(f"/{number}/next")
    second.reject(reason="busy")
    twiml_app.pages[f"/{number}/voice"] = str(first)
    twiml_app.pages[f"/{number}/next"] = str(second)
    app_id = callplane.application(
        twiml_app.url(f"/{number}/voice"), hangup_url=twiml_app.url(f"/{number}/status")
    )
    callplane.number(number, app_id)

    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=486)

    assert result.returncode == 0, result.output
    status = twiml_app.wait_for(f"/{number}/status")
    assert status.params["CallStatus"] == "busy"
    assert status.params["AccountSid"] == AUTH_ID
    seen = twiml_app.requests(f"/{number}/")
    assert [s.path.rsplit("/", 1)[1] for s in seen] == ["voice", "next", "status"]
    assert all(s.valid for s in seen), seen


def test_gather_with_a_relative_action_gets_the_callers_digits(
    callplane: CallplaneServer, twiml_app: TwimlApp, phone: UserAgent
) -> None:
    number = str(next(_numbers))
    menu = VoiceResponse()
    gather = Gather(action="gather", num_digits=3, timeout=10)  # -> /{number}/gather
    gather.say("Enter your code.")
    menu.append(gather)
    thanks = VoiceResponse()
    thanks.say("Thanks.")
    thanks.hangup()
    twiml_app.pages[f"/{number}/menu"] = str(menu)
    twiml_app.pages[f"/{number}/gather"] = str(thanks)
    app_id = callplane.application(
        twiml_app.url(f"/{number}/menu"),
        hangup_url=twiml_app.url(f"/{number}/status"),
        dialect="twiml",
    )
    callplane.number(number, app_id)

    call = phone.call(number, callplane.sip_port)
    deadline = time.monotonic() + 15
    while not call.log.media_ready and time.monotonic() < deadline:
        phone.poll(0.05)
    phone.poll(0.5)  # the Gather has begun (digits before it would also be kept)
    call.dialDtmf("427")
    phone.wait(call, timeout=20)

    gathered = twiml_app.wait_for(f"/{number}/gather")
    assert gathered.valid
    params = gathered.params
    assert params["Digits"] == "427"
    # pinned to TwiML: Twilio's ids, the ones the Twilio REST API shows
    assert params["CallSid"].startswith("CA") and len(params["CallSid"]) == 34
    assert params["AccountSid"] == twilio_account_sid(AUTH_ID)
    assert (params["From"], params["Caller"]) == ("+14155550100", "+14155550100")
    assert (params["To"], params["Called"]) == (f"+{number}", f"+{number}")
    assert (params["CallStatus"], params["Direction"]) == ("in-progress", "inbound")
    assert params["ApiVersion"] == "2010-04-01"
    status = twiml_app.wait_for(f"/{number}/status")
    assert status.params["CallStatus"] == "completed"
    assert status.params["CallSid"] == params["CallSid"]
    assert status.params["CallbackSource"] == "call-progress-events"
    assert status.params["Timestamp"].endswith(" +0000")
    seen = twiml_app.requests(f"/{number}/")
    assert [s.path.rsplit("/", 1)[1] for s in seen] == ["menu", "gather", "status"]
    assert all(s.valid for s in seen), seen


def test_relative_urls_resolve_against_the_url_after_http_redirects(
    callplane: CallplaneServer, twiml_app: TwimlApp, workdir: Path
) -> None:
    number = str(next(_numbers))
    twiml_app.moved[f"/v1/{number}/voice"] = twiml_app.url(f"/v2/{number}/voice")
    document, refusal = VoiceResponse(), VoiceResponse()
    document.redirect("next")  # relative to /v2/{number}/voice, where the document came from
    refusal.reject(reason="busy")
    twiml_app.pages[f"/v2/{number}/voice"] = str(document)
    twiml_app.pages[f"/v2/{number}/next"] = str(refusal)
    callplane.number(number, callplane.application(twiml_app.url(f"/v1/{number}/voice")))

    result = sipp(workdir, "uac_final.xml", callplane.sip_port, to=number, code=486)

    assert result.returncode == 0, result.output
    seen = [s for s in twiml_app.requests("/v") if number in s.path]
    paths = [s.path for s in seen]
    assert paths == [f"/v1/{number}/voice", f"/v2/{number}/voice", f"/v2/{number}/next"]
    assert all(s.valid for s in seen), seen
