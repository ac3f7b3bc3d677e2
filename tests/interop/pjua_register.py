"""Registering PJSUA2 accounts (digest auth) with a Callplane server, for interop tests."""

from __future__ import annotations

import time

import pjsua2 as pj

from tests.interop.pjua import UserAgent


class RegAccount(pj.Account):
    """A pjsua2 account that remembers every registration state it went through."""

    def __init__(self) -> None:
        super().__init__()
        self.states: list[tuple[int, bool]] = []

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        info = self.getInfo()
        self.states.append((info.regStatus, info.regIsActive))


def register(
    ua: UserAgent, username: str, password: str, port: int, *, expires: int = 300
) -> RegAccount:
    """Create an account on ``ua`` that registers as ``username`` at 127.0.0.1:port."""
    config = pj.AccountConfig()
    config.idUri = f"sip:{username}@127.0.0.1:{port}"
    suffix = ";transport=tcp" if ua.transport == "tcp" else ""
    config.regConfig.registrarUri = f"sip:127.0.0.1:{port}{suffix}"
    config.regConfig.timeoutSec = expires
    config.regConfig.retryIntervalSec = 0  # a failure is final: the test looks at it
    config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
    account = RegAccount()
    account.create(config)
    return account


def wait_for_state(
    ua: UserAgent, account: RegAccount, count: int, timeout: float = 10.0
) -> pj.AccountInfo:
    """Poll until ``account`` went through ``count`` final registration states."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(account.states) < count:
        ua.endpoint.libHandleEvents(10)
    return account.getInfo()
