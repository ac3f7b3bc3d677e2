from __future__ import annotations

import re

import pytest
from plivo.utils import validate_signature, validate_v3_signature
from twilio.request_validator import RequestValidator

from callplane.webhooks.signing import SigningKeys, new_nonce, normalize, sign

TOKEN = "MzQ5ZjVlYjQ0ZmU2N2YwOTg1NmNmYjQ2ZWY0ZmUz"
MAIN_TOKEN = "OTkwMDJhYmM0NTYxMjM0NTY3ODkwYWJjZGVmMDEy"
KEYS = SigningKeys(TOKEN)

GET_URLS = [
    "https://example.com/answer",
    "https://example.com/answer?CallUUID=abc&From=123",
    "https://example.com:8443/answer/?a=1&a=0&b=&c=x+y",
    "http://127.0.0.1:8080/p?Digits=1%262&Name=J+R%2FT",
    # Non-ASCII in a GET query is signed correctly but the Python SDK's validator
    # cannot parse it (UnicodeEncodeError in its parse_qs on bytes).
]
POST_CASES = [
    ("https://example.com/answer", {}),
    ("https://example.com/answer", {"From": "14155550100", "To": "14155550199"}),
    ("https://example.com/answer?foo=bar", {"CallUUID": "u-1", "Digits": "12#"}),
    ("https://example.com/answer?foo=bar&foo=baz", {}),
    ("https://example.com/a?z=1", {"Tag": ["b", "a"], "Name": "Jörg Müller", "Empty": ""}),
]


def _v3_ok(method: str, url: str, headers: dict[str, str], params: dict | None) -> bool:
    nonce = headers["X-Plivo-Signature-V3-Nonce"]
    signature = headers["X-Plivo-Signature-V3"]
    return validate_v3_signature(method, url, nonce, TOKEN, signature, params)


@pytest.mark.parametrize("url", GET_URLS)
def test_get_signatures_validate(url: str) -> None:
    headers = sign("GET", url, {}, KEYS)
    assert _v3_ok("GET", url, headers, None)
    assert validate_signature(
        url, headers["X-Plivo-Signature-V2-Nonce"], headers["X-Plivo-Signature-V2"], TOKEN
    )


@pytest.mark.parametrize(("url", "params"), POST_CASES)
def test_post_signatures_validate(url: str, params: dict) -> None:
    form = normalize(params)
    headers = sign("POST", url, form, KEYS)
    assert _v3_ok("POST", url, headers, form)
    assert validate_signature(
        url, headers["X-Plivo-Signature-V2-Nonce"], headers["X-Plivo-Signature-V2"], TOKEN
    )


def test_post_signature_validates_with_flat_params() -> None:
    params = {"From": "1", "To": "2"}
    headers = sign("POST", "https://example.com/x", normalize(params), KEYS)
    assert _v3_ok("POST", "https://example.com/x", headers, dict(params))


def test_tampered_params_fail() -> None:
    form = normalize({"Digits": "1"})
    headers = sign("POST", "https://example.com/x", form, KEYS)
    assert not _v3_ok("POST", "https://example.com/x", headers, {"Digits": "2"})


def test_main_account_signature_uses_main_token() -> None:
    url = "https://example.com/x?q=1"
    form = normalize({"A": "b"})
    headers = sign("POST", url, form, SigningKeys(TOKEN, MAIN_TOKEN))
    nonce = headers["X-Plivo-Signature-V3-Nonce"]
    assert validate_v3_signature(
        "POST", url, nonce, MAIN_TOKEN, headers["X-Plivo-Signature-Ma-V3"], form
    )
    assert validate_signature(url, nonce, headers["X-Plivo-Signature-Ma-V2"], MAIN_TOKEN)
    assert headers["X-Plivo-Signature-Ma-V3"] != headers["X-Plivo-Signature-V3"]


def test_main_account_headers_equal_plain_ones_without_main_token() -> None:
    headers = sign("GET", "https://example.com/x", {}, KEYS)
    assert headers["X-Plivo-Signature-Ma-V3"] == headers["X-Plivo-Signature-V3"]
    assert headers["X-Plivo-Signature-Ma-V2"] == headers["X-Plivo-Signature-V2"]


def test_nonce_is_twenty_digits_and_fresh() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(re.fullmatch(r"\d{20}", n) for n in nonces)


@pytest.mark.parametrize("url", GET_URLS)
def test_get_twilio_signature_validates(url: str) -> None:
    headers = sign("GET", url, {}, KEYS)
    assert RequestValidator(TOKEN).validate(url, {}, headers["X-Twilio-Signature"])


@pytest.mark.parametrize(("url", "params"), POST_CASES)
def test_post_twilio_signature_validates(url: str, params: dict) -> None:
    form = normalize(params)
    headers = sign("POST", url, form, KEYS)
    flat = {k: v[0] for k, v in form.items() if len(v) == 1}
    multi = _MultiDict(form)
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, multi, headers["X-Twilio-Signature"])
    if len(flat) == len(form):
        assert validator.validate(url, flat, headers["X-Twilio-Signature"])


def test_twilio_signature_fails_on_tampering_and_other_token() -> None:
    form = normalize({"Digits": "1", "CallSid": "abc"})
    signature = sign("POST", "https://example.com/g", form, KEYS)["X-Twilio-Signature"]
    validator = RequestValidator(TOKEN)
    assert validator.validate("https://example.com/g", {"Digits": "1", "CallSid": "abc"}, signature)
    assert not validator.validate(
        "https://example.com/g", {"Digits": "2", "CallSid": "abc"}, signature
    )
    assert not validator.validate(
        "https://example.com/h", {"Digits": "1", "CallSid": "abc"}, signature
    )
    assert not RequestValidator(MAIN_TOKEN).validate(
        "https://example.com/g", {"Digits": "1", "CallSid": "abc"}, signature
    )


def test_twilio_signature_is_keyed_with_the_accounts_own_token() -> None:
    form = normalize({"A": "b"})
    headers = sign("POST", "https://example.com/x", form, SigningKeys(TOKEN, MAIN_TOKEN))
    assert RequestValidator(TOKEN).validate(
        "https://example.com/x", {"A": "b"}, headers["X-Twilio-Signature"]
    )


class _MultiDict(dict[str, list[str]]):
    """The shape Flask's request.form has: ``getall`` gives every value of a name."""

    def getall(self, name: str) -> list[str]:
        return self[name]
