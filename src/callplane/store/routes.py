"""The in-memory routing table: number -> everything needed to take a call.

Built in one pass from full table reads; the call router then looks a number
up without touching SQL. Block rules are ordered most specific first (number,
then application, then account), each level oldest first, because the first
matching rule decides the reject reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from callplane.store.models import (
    Account,
    Application,
    BlockRule,
    Endpoint,
    FlowVersion,
    Number,
    Route,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RuleIndex:
    """Block rules grouped by scope: per number, per application, per account."""

    def __init__(self, rules: Iterable[BlockRule]) -> None:
        self.by_number: dict[str, list[BlockRule]] = defaultdict(list)
        self.by_app: dict[str, list[BlockRule]] = defaultdict(list)
        self.by_account: dict[str, list[BlockRule]] = defaultdict(list)
        for rule in sorted(rules, key=lambda r: (r.created or _EPOCH, r.rule_id)):
            self._add(rule)

    def _add(self, rule: BlockRule) -> None:
        if rule.number:
            self.by_number[rule.number].append(rule)
        elif rule.app_id:
            self.by_app[rule.app_id].append(rule)
        else:
            self.by_account[rule.auth_id].append(rule)

    def for_number(self, number: Number) -> tuple[BlockRule, ...]:
        app_rules = self.by_app.get(number.app_id, []) if number.app_id else []
        return (
            *self.by_number.get(number.number, []),
            *app_rules,
            *self.by_account.get(number.auth_id, []),
        )


def build_routes(
    accounts: Mapping[str, Account],
    applications: Mapping[str, Application],
    numbers: Iterable[Number],
    rules: Iterable[BlockRule],
    flows: Mapping[str, FlowVersion] | None = None,
) -> dict[str, Route]:
    """One Route per number whose account exists; ``flows``: flow id -> newest version."""
    index = RuleIndex(rules)
    routes: dict[str, Route] = {}
    for number in numbers:
        account = accounts.get(number.auth_id)
        if account is None:
            continue
        app = applications.get(number.app_id) if number.app_id else None
        flow = (flows or {}).get(number.flow_id) if number.flow_id else None
        routes[number.number] = Route(number, account, app, index.for_number(number), flow)
    return routes


class EndpointIndex:
    """Endpoints by username, with the account and application their own calls run
    (the endpoint's ``app_id``, else the account's ``default_endpoint_app``)."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        accounts: Mapping[str, Account],
        applications: Mapping[str, Application],
    ) -> None:
        defaults = {a.auth_id: a for a in applications.values() if a.default_endpoint_app}
        self._found: dict[str, tuple[Endpoint, Account, Application | None]] = {}
        for endpoint in endpoints:
            account = accounts.get(endpoint.auth_id)
            if account is None:
                continue
            own = applications.get(endpoint.app_id) if endpoint.app_id else None
            app = own or defaults.get(account.auth_id)
            self._found[endpoint.username] = (endpoint, account, app)

    def get(self, username: str) -> tuple[Endpoint, Account, Application | None] | None:
        return self._found.get(username)
