"""The internal INVITE's member headers: only the cluster secret's holder can make
them, they go stale, and each is accepted once."""

from __future__ import annotations

import pytest

from callplane.calls.room_invite import (
    MAX_AGE,
    ForgedInvite,
    MemberInvite,
    Replays,
    exit_header,
    member_headers,
    read_exit,
    read_member,
)
from callplane.markup.verbs import Conference

SECRET = b"shared by the nodes"
NOW = 1_800_000_000.0
MEMBER = MemberInvite(
    "MA0000000000000000001",
    Conference("standup", muted=True, end_conference_on_exit=True, callback_url="http://x/cb"),
    "c0ffee00-0000-4000-8000-000000000001",
    "14155550100",
    "15557900001",
    "inbound",
    "Ada",
    {"X-PH-Team": "blue"},
    "plivo",
    "node-2",
)


def read(headers: tuple[tuple[str, str], ...], now: float = NOW, **kw: object) -> MemberInvite:
    found = dict(headers)
    replays = kw.get("replays") or Replays()
    assert isinstance(replays, Replays)
    return read_member(found.get, kw.get("secret", SECRET), now, replays)  # type: ignore[arg-type]


def test_a_signed_member_reads_back_whole() -> None:
    assert read(member_headers(MEMBER, SECRET, NOW)) == MEMBER


@pytest.mark.parametrize(
    "change",
    [
        lambda h: member_headers(MEMBER, b"another secret", NOW),
        lambda h: h[:1],  # no signature
        lambda h: ((h[0][0], h[0][1][:-4] + "AAAA"), h[1]),  # member changed after signing
        lambda h: member_headers(MEMBER, SECRET, NOW - MAX_AGE - 1),  # stale
        lambda h: member_headers(MEMBER, SECRET, NOW + MAX_AGE + 1),  # from the future
    ],
)
def test_what_the_secret_did_not_sign_now_is_refused(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ForgedInvite):
        read(change(member_headers(MEMBER, SECRET, NOW)))


def test_no_secret_refuses_everything() -> None:
    with pytest.raises(ForgedInvite):
        read(member_headers(MEMBER, b"", NOW), secret=b"")


def test_a_replayed_invite_is_refused() -> None:
    replays = Replays()
    headers = member_headers(MEMBER, SECRET, NOW)
    read(headers, replays=replays)
    with pytest.raises(ForgedInvite, match="replayed"):
        read(headers, NOW + 1, replays=replays)


def test_exit_parameters_travel_on_the_bye() -> None:
    params = {"ConferenceAction": "exit", "ConferenceMemberID": "2"}
    assert read_exit(exit_header(params)[1]) == params
    assert read_exit(None) is None and read_exit("%%%") is None
