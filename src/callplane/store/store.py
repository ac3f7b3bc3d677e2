"""The store: accounts, applications, numbers, block rules, call records, outbox.

SQLAlchemy Core on an async engine: SQLite (aiosqlite, WAL) by default,
PostgreSQL (asyncpg) for clusters; no backend-only SQL outside ``sql.py``.

Lookups by id return ``None`` when nothing matches; updates and deletes of a
missing row raise :class:`~callplane.errors.NotFound`; bad values raise
:class:`~callplane.errors.ValidationError` naming the field. Every write of
configuration (accounts, applications, numbers, rules) reloads the in-memory
routing table that :meth:`Store.route` reads without SQL.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callplane.errors import NotFound, ValidationError
from callplane.store import reads, rows, traces
from callplane.store import tables as t
from callplane.store.caches import Credentials, Refreshed
from callplane.store.config_changes import ConfigFollower, announce
from callplane.store.ids import (
    new_app_id,
    new_auth_id,
    new_auth_token,
    new_endpoint_id,
    new_flow_id,
    new_key_id,
    new_key_secret,
    new_rule_id,
)
from callplane.store.migrations import upgrade as migrate
from callplane.store.models import (
    Account,
    ApiKey,
    Application,
    BlockRule,
    CallRecord,
    DebuggerEvent,
    Endpoint,
    FlowRun,
    FlowVersion,
    Number,
    Recording,
    Route,
    StoredFlow,
    StoredTrace,
    Trunk,
    UsagePeriod,
)
from callplane.store.outbox import OutboxChanges, SqlOutbox
from callplane.store.routes import EndpointIndex, build_routes
from callplane.store.secrets import digest_ha1, secret_digest
from callplane.store.sql import count_of, date_bucket, install_sqlite_pragmas, upsert
from callplane.store.traces import TraceBatch
from callplane.store.trunks import TrunkTable, apply_changes, new_trunk_id
from callplane.store.trunks import from_row as trunk_of
from callplane.store.trunks import to_row as trunk_row
from callplane.store.validation import (
    USAGE_PERIODS,
    check_name,
    check_non_negative,
    check_password,
    check_rate,
    check_username,
    normalise_number,
    validate_application,
    validate_block_rule,
)

T = TypeVar("T")

_MAIN_AUTH_ID = re.compile(r"MA[A-Z0-9]{18}")
_FIXED_FIELDS = frozenset({"app_id", "auth_id", "created", "number", "added_on"})
_NUMBER_FIELDS = frozenset(
    {
        "app_id",
        "alias",
        "carrier",
        "region",
        "number_type",
        "max_concurrent_calls",
        "auth_id",
        "flow_id",
    }
)
CALL_FILTERS = frozenset(
    {
        "call_direction",
        "from_number",
        "to_number",
        "call_status",
        "state",
        "app_id",
        "parent_call_uuid",
        "hangup_cause_code",
        "hangup_source",
        "bill_duration",
        "end_time",
        "initiation_time",
    }
)
# Filters that also take Plivo's __gt, __gte, __lt, __lte suffixes.
CALL_RANGE_FILTERS = frozenset({"bill_duration", "end_time", "initiation_time"})
# Filters that also take ``__in`` (a tuple of values, any of which matches).
CALL_SET_FILTERS = frozenset({"call_status"})
RECORDING_FILTERS = frozenset({"call_uuid", "add_time", "from_number", "to_number"})
RECORDING_RANGE_FILTERS = frozenset({"add_time"})
_RANGE_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
# Cause codes of calls refused before answer (reject reasons, no route, no app...).
REJECT_CODES = (3000, 3099)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, with the count of all matching rows."""

    items: list[T]
    total: int


def _changed(obj: T, changes: Mapping[str, Any], allowed: frozenset[str] | None = None) -> T:
    """``obj`` with ``changes`` applied; unknown or fixed fields are errors."""
    names = {f.name for f in fields(obj)}  # type: ignore[arg-type]
    for name in changes:
        if name not in names or (allowed is not None and name not in allowed):
            raise ValidationError(name, "unknown field")
        if name in _FIXED_FIELDS and allowed is None:
            raise ValidationError(name, "cannot be changed")
    return replace(obj, **changes)  # type: ignore[type-var]


class Store:
    def __init__(self, engine: AsyncEngine, node: str = "") -> None:
        self._engine = engine
        self.node = node  # written with every call record (a cluster node's name)
        self._reads = reads.reader_for(engine)
        self._upsert_records = upsert(engine.dialect.name, t.call_records, "call_uuid")
        self._upsert_runs = upsert(engine.dialect.name, t.flow_runs, "run_id")
        self._routes: dict[str, Route] = {}
        self._endpoints = EndpointIndex((), {}, {})
        self._reload_lock = asyncio.Lock()
        self._credentials = Credentials(self._read_credentials)
        self.trunks = TrunkTable()  # enabled trunks per account, rebuilt with the routes
        # (auth id, filters) -> count(*) of the records a list matches
        self._call_counts: Refreshed[tuple[str, tuple[Any, ...]], int] = Refreshed(ttl=2.0)
        self.outbox = SqlOutbox(engine)
        self._traces = traces.TraceRows(engine.dialect.name)
        self._follower: ConfigFollower | None = None  # PostgreSQL: other nodes' changes

    @classmethod
    async def open(cls, url: str, node: str = "") -> Store:
        """Connect, migrate the schema to the newest revision, load the routing table.
        ``node``: this cluster node's name, written with the call records it writes."""
        engine = create_async_engine(url)
        if engine.dialect.name == "sqlite":
            install_sqlite_pragmas(engine)
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        store = cls(engine, node)
        await store.reload_routes()
        if engine.dialect.name == "postgresql":
            store._follower = ConfigFollower(engine, store.reload_routes)
            store._follower.start()
        return store

    async def ping(self) -> None:
        """One trivial read: raises if the database does not answer (GET /healthz)."""
        await self._first(sa.select(sa.literal(1)))

    async def close(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
        await self._reads.close()
        await self._engine.dispose()

    # -- plumbing -------------------------------------------------------------

    async def _first(
        self, stmt: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        row: Row[Any] | None = await self._reads.run(reads.first(stmt, params))
        return row

    async def _all(
        self, stmt: sa.Executable, params: dict[str, Any] | None = None
    ) -> list[Row[Any]]:
        return await self._reads.run(reads.every(stmt, params))

    async def _page(
        self, stmt: sa.Select[Any], limit: int, offset: int, convert: Callable[[Row[Any]], T]
    ) -> Page[T]:
        def read(conn: Connection) -> Page[T]:
            total = conn.execute(count_of(stmt)).scalar_one()
            result = conn.execute(stmt.limit(limit).offset(offset))
            return Page([convert(row) for row in result], total)

        return await self._reads.run(read)

    async def _change(self, stmt: sa.Executable, missing: str | None = None) -> None:
        """Run one configuration write, then reload routes; NotFound if no row hit."""
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        if missing is not None and result.rowcount == 0:
            raise NotFound(missing)
        await self._config_changed()

    async def _write(self, stmt: sa.Executable, missing: str | None = None) -> None:
        """Run one write that routing does not depend on; NotFound if no row hit."""
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        if missing is not None and result.rowcount == 0:
            raise NotFound(missing)

    # -- routing table --------------------------------------------------------

    async def _config_changed(self) -> None:
        """After a configuration write: this node's tables, then every other node's."""
        await self.reload_routes()
        await announce(self._engine)

    async def reload_routes(self) -> None:
        """Read numbers, accounts, applications and rules into the routing table."""
        async with self._reload_lock, self._engine.connect() as conn:
            accounts, keys = await conn.run_sync(_credentials_in)
            apps = await _load(conn, t.applications, rows.application)
            numbers = await _load(conn, t.numbers, rows.number)
            rules = await _load(conn, t.block_rules, rows.block_rule)
            flows = await _number_flows(conn)
            trunks = await _load(conn, t.trunks, trunk_of)
            endpoints = await _load(conn, t.endpoints, rows.endpoint)
        self._credentials.replace(accounts, keys)
        self.trunks.replace(trunks)
        by_account = {a.auth_id: a for a in accounts}
        by_app = {a.app_id: a for a in apps}
        self._routes = build_routes(by_account, by_app, numbers, rules, flows)
        self._endpoints = EndpointIndex(endpoints, by_account, by_app)

    def route(self, number: str) -> Route | None:
        """The route of a dialled number ("+" optional), from memory."""
        return self._routes.get(number.lstrip("+"))

    def endpoint(self, username: str) -> tuple[Endpoint, Account, Application | None] | None:
        """An endpoint by username, with its account and the application its own calls
        run, from memory (as ``route``: the call router must not wait for SQL)."""
        return self._endpoints.get(username)

    # -- accounts -------------------------------------------------------------

    async def ensure_main_account(
        self, auth_id: str | None = None, auth_token: str | None = None
    ) -> tuple[Account, bool]:
        """The main account, created on first start; True if it was just created.

        Credentials given here replace the stored ones when they differ.
        """
        if auth_id is not None and not _MAIN_AUTH_ID.fullmatch(auth_id):
            raise ValidationError("auth_id", "must be MA + 18 upper-case letters or digits")
        current = await self._main_account()
        if current is None:
            return await self._create_main_account(auth_id, auth_token), True
        wanted = replace(
            current, auth_id=auth_id or current.auth_id, auth_token=auth_token or current.auth_token
        )
        if wanted != current:
            await self._rekey_account(current.auth_id, wanted)
        return wanted, False

    async def _main_account(self) -> Account | None:
        stmt = sa.select(t.accounts).where(t.accounts.c.parent_auth_id.is_(None))
        row = await self._first(stmt.order_by(t.accounts.c.created).limit(1))
        return rows.account(row) if row else None

    async def _create_main_account(self, auth_id: str | None, auth_token: str | None) -> Account:
        account = Account(
            auth_id=auth_id or new_auth_id(),
            auth_token=auth_token or new_auth_token(),
            name="main",
            created=_now(),
        )
        await self._change(sa.insert(t.accounts).values(**rows.to_row(account)))
        return account

    async def _rekey_account(self, old_auth_id: str, account: Account) -> None:
        """New credentials; a new auth id cascades to everything the account owns."""
        values = {"auth_id": account.auth_id, "auth_token": account.auth_token}
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(t.accounts).where(t.accounts.c.auth_id == old_auth_id).values(values)
            )
            if account.auth_id != old_auth_id:
                await _move_account_rows(conn, old_auth_id, account.auth_id)
        await self._config_changed()

    async def get_account(self, auth_id: str) -> Account | None:
        row = await self._first(sa.select(t.accounts).where(t.accounts.c.auth_id == auth_id))
        return rows.account(row) if row else None

    async def authenticate(self, auth_id: str, token: str) -> Account | None:
        """The enabled account whose auth token or one of whose API key secrets is ``token``.

        Checked in memory (see ``caches.Credentials``): the auth token in constant
        time, key secrets by their SHA-256.
        """
        return await self._credentials.check(auth_id, token)

    async def account_by_twilio_sid(self, sid: str) -> Account | None:
        """The account whose ``AC...`` SID (``ids.twilio_account_sid``) is ``sid``."""
        return await self._credentials.by_twilio_sid(sid)

    async def _read_credentials(self) -> tuple[list[Account], list[tuple[str, str]]]:
        return await self._reads.run(_credentials_in)

    async def update_account(
        self,
        auth_id: str,
        *,
        name: str | None = None,
        inbound_cps: float | None = None,
        enabled: bool | None = None,
        rate_per_minute: str | None = None,
        billing_interval: int | None = None,
        city: str | None = None,
        address: str | None = None,
        private_networks: bool | None = None,
    ) -> Account:
        current = await self.get_account(auth_id)
        if current is None:
            raise NotFound(f"account {auth_id}")
        changes: dict[str, Any] = {
            "name": check_name("name", name) if name is not None else None,
            "inbound_cps": inbound_cps,
            "enabled": enabled,
            "rate_per_minute": rate_per_minute,
            "billing_interval": billing_interval,
            "city": city,
            "address": address,
            "private_networks": private_networks,
        }
        account = replace(current, **{k: v for k, v in changes.items() if v is not None})
        account = _check_account(account)
        stmt = sa.update(t.accounts).where(t.accounts.c.auth_id == auth_id)
        await self._change(stmt.values(**rows.to_row(account)))
        return account

    async def rotate_auth_token(self, auth_id: str) -> Account:
        """A fresh auth token; the old one stops working at once (API keys keep working)."""
        current = await self.get_account(auth_id)
        if current is None:
            raise NotFound(f"account {auth_id}")
        account = replace(current, auth_token=new_auth_token())
        stmt = sa.update(t.accounts).where(t.accounts.c.auth_id == auth_id)
        await self._change(stmt.values(auth_token=account.auth_token))
        return account

    # -- sub-accounts ---------------------------------------------------------

    async def create_subaccount(
        self,
        parent_auth_id: str,
        name: str,
        *,
        enabled: bool = False,
        private_networks: bool = False,
    ) -> Account:
        """A sub-account (``SA...``, own token) inheriting the parent's limits and pricing."""
        parent = await self.get_account(parent_auth_id)
        if parent is None:
            raise NotFound(f"account {parent_auth_id}")
        if parent.parent_auth_id is not None:
            raise ValidationError("auth_id", "a sub-account cannot have sub-accounts")
        account = Account(
            auth_id=new_auth_id("SA"),
            auth_token=new_auth_token(),
            name=check_name("name", name),
            parent_auth_id=parent.auth_id,
            enabled=enabled,
            inbound_cps=parent.inbound_cps,
            rate_per_minute=parent.rate_per_minute,
            billing_interval=parent.billing_interval,
            created=_now(),
            private_networks=private_networks,
        )
        await self._change(sa.insert(t.accounts).values(**rows.to_row(account)))
        return account

    async def get_subaccount(self, parent_auth_id: str, auth_id: str) -> Account | None:
        c = t.accounts.c
        stmt = sa.select(t.accounts).where(c.auth_id == auth_id, c.parent_auth_id == parent_auth_id)
        row = await self._first(stmt)
        return rows.account(row) if row else None

    async def list_subaccounts(
        self, parent_auth_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[Account]:
        c = t.accounts.c
        stmt = sa.select(t.accounts).where(c.parent_auth_id == parent_auth_id)
        return await self._page(stmt.order_by(c.created, c.auth_id), limit, offset, rows.account)

    async def update_subaccount(self, parent_auth_id: str, auth_id: str, **changes: Any) -> Account:
        """``update_account`` of a sub-account of ``parent_auth_id`` (else NotFound)."""
        if await self.get_subaccount(parent_auth_id, auth_id) is None:
            raise NotFound(f"subaccount {auth_id}")
        return await self.update_account(auth_id, **changes)

    async def delete_subaccount(
        self, parent_auth_id: str, auth_id: str, *, cascade: bool = False
    ) -> None:
        """Delete a sub-account and its API keys; with ``cascade`` also its applications,
        numbers, endpoints, block rules and flows, else those move to the parent (as Plivo does).
        Call records stay, under the sub-account's auth id."""
        if await self.get_subaccount(parent_auth_id, auth_id) is None:
            raise NotFound(f"subaccount {auth_id}")
        async with self._engine.begin() as conn:
            if not cascade:
                await _adopt(conn, auth_id, parent_auth_id)
            await conn.execute(sa.delete(t.accounts).where(t.accounts.c.auth_id == auth_id))
        await self._config_changed()

    async def resolve_owner(self, auth_id: str, subaccount: str | None) -> str:
        """The account a request acts for: ``auth_id``, or its sub-account ``subaccount``.

        A ``subaccount`` that is not a sub-account of ``auth_id`` is NotFound,
        whether it exists or not, so other accounts' ids do not leak.
        """
        if not subaccount or subaccount == auth_id:
            return auth_id
        if await self.get_subaccount(auth_id, subaccount) is None:
            raise NotFound(f"subaccount {subaccount}")
        return subaccount

    # -- API keys -------------------------------------------------------------

    async def create_api_key(self, auth_id: str, name: str) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is not stored and cannot be read again."""
        if await self.get_account(auth_id) is None:
            raise NotFound(f"account {auth_id}")
        secret = new_key_secret()
        key = ApiKey(new_key_id(), auth_id, check_name("name", name), secret_digest(secret), _now())
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(t.api_keys).values(**rows.to_row(key)))
        self._credentials.invalidate()
        return key, secret

    async def list_api_keys(
        self, auth_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[ApiKey]:
        c = t.api_keys.c
        stmt = sa.select(t.api_keys).where(c.auth_id == auth_id).order_by(c.created, c.key_id)
        return await self._page(stmt, limit, offset, rows.api_key)

    async def revoke_api_key(self, auth_id: str, key_id: str) -> None:
        c = t.api_keys.c
        stmt = sa.delete(t.api_keys).where(c.auth_id == auth_id, c.key_id == key_id)
        try:
            await self._write(stmt, missing=f"API key {key_id}")
        finally:
            self._credentials.invalidate()  # after the delete, or a reload could keep the key

    # -- applications ---------------------------------------------------------

    async def create_application(self, app: Application) -> Application:
        """Store a new application; an empty ``app_id`` gets a fresh one."""
        app = replace(app, app_id=app.app_id or new_app_id(), created=app.created or _now())
        app = validate_application(app)
        async with self._engine.begin() as conn:
            await _clear_other_defaults(conn, app)
            await conn.execute(sa.insert(t.applications).values(**rows.to_row(app)))
        await self._config_changed()
        return app

    async def get_application(
        self, auth_id: str, app_id: str, *, include_subaccounts: bool = False
    ) -> Application | None:
        """The application if ``auth_id`` owns it (or, with ``include_subaccounts``,
        one of its sub-accounts does)."""
        row = await self._first(_app_query(auth_id, app_id, include_subaccounts))
        return rows.application(row) if row else None

    async def list_applications(
        self, auth_id: str, *, limit: int = 20, offset: int = 0, app_name: str | None = None
    ) -> Page[Application]:
        c = t.applications.c
        stmt = sa.select(t.applications).where(c.auth_id == auth_id)
        if app_name:
            stmt = stmt.where(c.app_name == app_name)
        stmt = stmt.order_by(c.created, c.app_id)
        return await self._page(stmt, limit, offset, rows.application)

    async def update_application(
        self, auth_id: str, app_id: str, changes: Mapping[str, Any]
    ) -> Application:
        current = await self.get_application(auth_id, app_id)
        if current is None:
            raise NotFound(f"application {app_id}")
        app = validate_application(_changed(current, changes))
        async with self._engine.begin() as conn:
            await _clear_other_defaults(conn, app)
            stmt = sa.update(t.applications).where(t.applications.c.app_id == app_id)
            await conn.execute(stmt.values(**rows.to_row(app)))
        await self._config_changed()
        return app

    async def delete_application(self, auth_id: str, app_id: str) -> None:
        """Delete; its numbers lose their application, its block rules go too."""
        c = t.applications.c
        stmt = sa.delete(t.applications).where(c.auth_id == auth_id, c.app_id == app_id)
        await self._change(stmt, missing=f"application {app_id}")

    # -- numbers --------------------------------------------------------------

    async def add_numbers(
        self,
        auth_id: str,
        numbers: Sequence[str],
        *,
        carrier: str = "",
        region: str = "",
        number_type: str = "local",
        app_id: str | None = None,
    ) -> list[Number]:
        """Add own numbers; without ``app_id`` they get the default number app."""
        digits = list(dict.fromkeys(normalise_number(n, "numbers") for n in numbers))
        if not digits:
            raise ValidationError("numbers", "required")
        app_id = await self._number_app(auth_id, app_id)
        added = [
            Number(d, auth_id, app_id, "", carrier, region, number_type or "local", 0, _now())
            for d in digits
        ]
        async with self._engine.begin() as conn:
            await _check_numbers_free(conn, digits)
            await conn.execute(sa.insert(t.numbers), [rows.to_row(n) for n in added])
        await self._config_changed()
        return added

    async def _number_app(self, auth_id: str, app_id: str | None) -> str | None:
        if app_id:
            if await self.get_application(auth_id, app_id) is None:
                raise ValidationError("app_id", f"no application {app_id}")
            return app_id
        c = t.applications.c
        stmt = sa.select(c.app_id).where(c.auth_id == auth_id, c.default_number_app.is_(True))
        row = await self._first(stmt.limit(1))
        return row.app_id if row else None

    async def get_number(
        self, auth_id: str, number: str, *, include_subaccounts: bool = False
    ) -> Number | None:
        row = await self._first(_number_query(auth_id, number, include_subaccounts))
        return rows.number(row) if row else None

    async def list_numbers(
        self,
        auth_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        number_startswith: str | None = None,
        alias: str | None = None,
        number_type: str | None = None,
    ) -> Page[Number]:
        c = t.numbers.c
        stmt = sa.select(t.numbers).where(c.auth_id == auth_id)
        if number_startswith:
            stmt = stmt.where(c.number.startswith(number_startswith.lstrip("+"), autoescape=True))
        if alias:
            stmt = stmt.where(c.alias == alias)
        if number_type:
            stmt = stmt.where(c.number_type == number_type)
        return await self._page(stmt.order_by(c.number), limit, offset, rows.number)

    async def update_number(self, auth_id: str, number: str, changes: Mapping[str, Any]) -> Number:
        """Change app_id ("" or None unassigns), alias, max_concurrent_calls, carrier...

        ``auth_id`` in ``changes`` gives the number to another account (the caller
        checks that it may); the number then loses an application it does not own.
        """
        current = await self.get_number(auth_id, number)
        if current is None:
            raise NotFound(f"number {number}")
        updated = _changed(current, changes, _NUMBER_FIELDS)
        if updated.auth_id != current.auth_id and "app_id" not in changes:
            updated = replace(updated, app_id=None)
        if updated.auth_id != current.auth_id and "flow_id" not in changes:
            updated = replace(updated, flow_id=None)
        if updated.app_id and await self.get_application(updated.auth_id, updated.app_id) is None:
            raise ValidationError("app_id", f"no application {updated.app_id}")
        if changes.get("flow_id") and "app_id" not in changes:
            updated = replace(updated, app_id=None)  # a number runs a flow or an application
        if changes.get("app_id") and "flow_id" not in changes:
            updated = replace(updated, flow_id=None)
        if updated.flow_id:
            await self._check_published(updated.auth_id, updated.flow_id)
        updated = replace(updated, app_id=updated.app_id or None, flow_id=updated.flow_id or None)
        check_non_negative("max_concurrent_calls", updated.max_concurrent_calls)
        stmt = sa.update(t.numbers).where(t.numbers.c.number == current.number)
        await self._change(stmt.values(**rows.to_row(updated)))
        return updated

    async def _check_published(self, auth_id: str, flow_id: str) -> None:
        flow = await self.get_flow(auth_id, flow_id)
        if flow is None:
            raise ValidationError("flow_id", f"no flow {flow_id}")
        if flow.published_version is None:
            raise ValidationError("flow_id", f"flow {flow_id} has no published version")

    async def delete_number(self, auth_id: str, number: str) -> None:
        c = t.numbers.c
        digits = number.lstrip("+")
        stmt = sa.delete(t.numbers).where(c.auth_id == auth_id, c.number == digits)
        await self._change(stmt, missing=f"number {number}")

    # -- block rules ----------------------------------------------------------

    async def add_block_rule(self, rule: BlockRule) -> BlockRule:
        """Store a rule scoped to one number, one application or the whole account."""
        rule = validate_block_rule(rule)
        await self._check_rule_scope(rule)
        rule = replace(rule, rule_id=rule.rule_id or new_rule_id(), created=rule.created or _now())
        await self._change(sa.insert(t.block_rules).values(**rows.to_row(rule)))
        return rule

    async def _check_rule_scope(self, rule: BlockRule) -> None:
        if rule.number and await self.get_number(rule.auth_id, rule.number) is None:
            raise ValidationError("number", f"no number {rule.number} in this account")
        if rule.app_id and await self.get_application(rule.auth_id, rule.app_id) is None:
            raise ValidationError("app_id", f"no application {rule.app_id}")

    async def get_block_rule(self, auth_id: str, rule_id: str) -> BlockRule | None:
        c = t.block_rules.c
        stmt = sa.select(t.block_rules).where(c.auth_id == auth_id, c.rule_id == rule_id)
        row = await self._first(stmt)
        return rows.block_rule(row) if row else None

    async def list_block_rules(
        self, auth_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[BlockRule]:
        c = t.block_rules.c
        stmt = sa.select(t.block_rules).where(c.auth_id == auth_id).order_by(c.created, c.rule_id)
        return await self._page(stmt, limit, offset, rows.block_rule)

    async def delete_block_rule(self, auth_id: str, rule_id: str) -> None:
        c = t.block_rules.c
        stmt = sa.delete(t.block_rules).where(c.auth_id == auth_id, c.rule_id == rule_id)
        await self._change(stmt, missing=f"block rule {rule_id}")

    # -- SIP endpoints --------------------------------------------------------

    async def create_endpoint(
        self,
        auth_id: str,
        username: str,
        password: str,
        *,
        alias: str = "",
        app_id: str | None = None,
    ) -> Endpoint:
        """A SIP endpoint; usernames are unique across accounts (one registrar realm)."""
        await self._check_endpoint_app(auth_id, app_id)
        endpoint = Endpoint(
            endpoint_id=new_endpoint_id(),
            auth_id=auth_id,
            username=check_username(username),
            alias=alias.strip(),
            app_id=app_id or None,
            ha1=digest_ha1(username, check_password(password)),
            created=_now(),
        )
        async with self._engine.begin() as conn:
            taken = await conn.execute(
                sa.select(t.endpoints.c.endpoint_id).where(t.endpoints.c.username == username)
            )
            if taken.first() is not None:
                raise ValidationError("username", f"{username!r} is already taken")
            await conn.execute(sa.insert(t.endpoints).values(**rows.to_row(endpoint)))
        await self._config_changed()
        return endpoint

    async def _check_endpoint_app(self, auth_id: str, app_id: str | None) -> None:
        if app_id and await self.get_application(auth_id, app_id) is None:
            raise ValidationError("app_id", f"no application {app_id}")

    async def get_endpoint(
        self, auth_id: str, endpoint_id: str, *, include_subaccounts: bool = False
    ) -> Endpoint | None:
        c = t.endpoints.c
        owned = _owned(c.auth_id, auth_id, include_subaccounts)
        row = await self._first(sa.select(t.endpoints).where(owned, c.endpoint_id == endpoint_id))
        return rows.endpoint(row) if row else None

    async def find_endpoint(self, username: str) -> Endpoint | None:
        """The endpoint a SIP REGISTER or INVITE names (for the digest check)."""
        row = await self._first(sa.select(t.endpoints).where(t.endpoints.c.username == username))
        return rows.endpoint(row) if row else None

    async def list_endpoints(
        self, auth_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[Endpoint]:
        c = t.endpoints.c
        stmt = sa.select(t.endpoints).where(c.auth_id == auth_id)
        stmt = stmt.order_by(c.created, c.endpoint_id)
        return await self._page(stmt, limit, offset, rows.endpoint)

    async def update_endpoint(
        self,
        auth_id: str,
        endpoint_id: str,
        *,
        password: str | None = None,
        alias: str | None = None,
        app_id: str | None = None,
    ) -> Endpoint:
        """Change the password, alias or application (``app_id=""`` unassigns)."""
        current = await self.get_endpoint(auth_id, endpoint_id)
        if current is None:
            raise NotFound(f"endpoint {endpoint_id}")
        endpoint = current
        if password is not None:
            endpoint = replace(
                endpoint, ha1=digest_ha1(endpoint.username, check_password(password))
            )
        if alias is not None:
            endpoint = replace(endpoint, alias=alias.strip())
        if app_id is not None:
            await self._check_endpoint_app(auth_id, app_id)
            endpoint = replace(endpoint, app_id=app_id or None)
        stmt = sa.update(t.endpoints).where(t.endpoints.c.endpoint_id == endpoint_id)
        await self._change(stmt.values(**rows.to_row(endpoint)))
        return endpoint

    async def delete_endpoint(self, auth_id: str, endpoint_id: str) -> None:
        c = t.endpoints.c
        stmt = sa.delete(t.endpoints).where(c.auth_id == auth_id, c.endpoint_id == endpoint_id)
        await self._change(stmt, missing=f"endpoint {endpoint_id}")

    # -- flows ----------------------------------------------------------------

    async def create_flow(self, auth_id: str, name: str, document: Mapping[str, Any]) -> StoredFlow:
        """A new draft; the caller has checked the document (``callplane.flows``)."""
        now = _now()
        flow = StoredFlow(
            new_flow_id(), auth_id, check_name("name", name), dict(document), now, now
        )
        values = {f: getattr(flow, f) for f in _FLOW_COLUMNS}
        await self._write(sa.insert(t.flows).values(**values))
        return flow

    async def get_flow(self, auth_id: str, flow_id: str) -> StoredFlow | None:
        c = t.flows.c
        row = await self._first(_flow_query().where(c.auth_id == auth_id, c.flow_id == flow_id))
        return rows.from_row(StoredFlow, row) if row else None

    async def list_flows(
        self, auth_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[StoredFlow]:
        c = t.flows.c
        stmt = _flow_query().where(c.auth_id == auth_id).order_by(c.created, c.flow_id)
        return await self._page(stmt, limit, offset, lambda row: rows.from_row(StoredFlow, row))

    async def update_flow(
        self,
        auth_id: str,
        flow_id: str,
        *,
        name: str | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> StoredFlow:
        """Save the draft; published versions stay as they are."""
        current = await self.get_flow(auth_id, flow_id)
        if current is None:
            raise NotFound(f"flow {flow_id}")
        flow = replace(
            current,
            name=current.name if name is None else check_name("name", name),
            document=current.document if document is None else dict(document),
            updated=_now(),
        )
        values = {"name": flow.name, "document": flow.document, "updated": flow.updated}
        await self._write(sa.update(t.flows).where(t.flows.c.flow_id == flow_id).values(values))
        return flow

    async def delete_flow(self, auth_id: str, flow_id: str) -> None:
        """Delete the draft and (by cascade) its published versions; its numbers lose it."""
        c, n = t.flows.c, t.numbers.c
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.delete(t.flows).where(c.auth_id == auth_id, c.flow_id == flow_id)
            )
            if result.rowcount == 0:
                raise NotFound(f"flow {flow_id}")
            unassign = sa.update(t.numbers).where(n.flow_id == flow_id)
            await conn.execute(unassign.values(flow_id=None))
        await self._config_changed()

    async def publish_flow(
        self, auth_id: str, flow_id: str, document: Mapping[str, Any]
    ) -> FlowVersion:
        """Store ``document`` (the draft the caller validated) as the next version."""
        for _ in range(_PUBLISH_ATTEMPTS - 1):
            try:
                version = await self._publish_once(auth_id, flow_id, document)
                break
            except sa.exc.IntegrityError:
                continue  # a concurrent publish took the number: take the next one
        else:
            version = await self._publish_once(auth_id, flow_id, document)
        await self._config_changed()  # the flow's numbers answer with the new version
        return version

    async def _publish_once(
        self, auth_id: str, flow_id: str, document: Mapping[str, Any]
    ) -> FlowVersion:
        v = t.flow_versions.c
        async with self._engine.begin() as conn:
            if await _owned_flow(conn, auth_id, flow_id) is None:
                raise NotFound(f"flow {flow_id}")
            newest = sa.select(sa.func.coalesce(sa.func.max(v.version), 0))
            number = (await conn.execute(newest.where(v.flow_id == flow_id))).scalar_one() + 1
            version = FlowVersion(flow_id, number, dict(document), _now())
            await conn.execute(sa.insert(t.flow_versions).values(**rows.to_row(version)))
        return version

    async def list_flow_versions(
        self, auth_id: str, flow_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[FlowVersion]:
        """Published versions, newest first; NotFound for another account's flow."""
        if await self.get_flow(auth_id, flow_id) is None:
            raise NotFound(f"flow {flow_id}")
        v = t.flow_versions.c
        stmt = sa.select(t.flow_versions).where(v.flow_id == flow_id).order_by(v.version.desc())
        return await self._page(stmt, limit, offset, lambda row: rows.from_row(FlowVersion, row))

    async def get_flow_version(
        self, auth_id: str, flow_id: str, version: int
    ) -> FlowVersion | None:
        v, f = t.flow_versions.c, t.flows.c
        stmt = (
            sa.select(t.flow_versions)
            .join(t.flows, f.flow_id == v.flow_id)
            .where(f.auth_id == auth_id, v.flow_id == flow_id, v.version == version)
        )
        row = await self._first(stmt)
        return rows.from_row(FlowVersion, row) if row else None

    # -- flow runs ------------------------------------------------------------

    async def save_flow_run(self, run: FlowRun) -> None:
        """Insert or replace the run (it is saved when it starts and when it ends)."""
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert_runs, [rows.to_row(run)])

    async def get_flow_run(self, auth_id: str, flow_id: str, run_id: str) -> FlowRun | None:
        c = t.flow_runs.c
        stmt = sa.select(t.flow_runs).where(
            c.auth_id == auth_id, c.flow_id == flow_id, c.run_id == run_id
        )
        row = await self._first(stmt)
        return _flow_run(row) if row else None

    async def list_flow_runs(
        self, auth_id: str, flow_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[FlowRun]:
        """Runs of one flow, newest first (without their logs' order changing)."""
        c = t.flow_runs.c
        stmt = (
            sa.select(t.flow_runs)
            .where(c.auth_id == auth_id, c.flow_id == flow_id)
            .order_by(c.started.desc(), c.run_id.desc())
        )
        return await self._page(stmt, limit, offset, _flow_run)

    # -- trunks -----------------------------------------------------------------

    async def create_trunk(self, auth_id: str, fields: Mapping[str, Any]) -> Trunk:
        """A new trunk from writable fields (``trunks.WRITABLE``); name and host required."""
        if await self.get_account(auth_id) is None:
            raise NotFound(f"account {auth_id}")
        trunk = apply_changes(Trunk(new_trunk_id(), auth_id, "", "", created=_now()), fields)
        await self._change(sa.insert(t.trunks).values(**trunk_row(trunk)))
        return trunk

    async def get_trunk(self, auth_id: str, trunk_id: str) -> Trunk | None:
        c = t.trunks.c
        stmt = sa.select(t.trunks).where(c.auth_id == auth_id, c.trunk_id == trunk_id)
        row = await self._first(stmt)
        return trunk_of(row) if row else None

    async def list_trunks(self, auth_id: str, *, limit: int = 20, offset: int = 0) -> Page[Trunk]:
        c = t.trunks.c
        stmt = sa.select(t.trunks).where(c.auth_id == auth_id)
        stmt = stmt.order_by(c.priority, c.created, c.trunk_id)
        return await self._page(stmt, limit, offset, trunk_of)

    async def update_trunk(self, auth_id: str, trunk_id: str, changes: Mapping[str, Any]) -> Trunk:
        current = await self.get_trunk(auth_id, trunk_id)
        if current is None:
            raise NotFound(f"trunk {trunk_id}")
        trunk = apply_changes(current, changes)
        stmt = sa.update(t.trunks).where(t.trunks.c.trunk_id == trunk_id)
        await self._change(stmt.values(**trunk_row(trunk)))
        return trunk

    async def delete_trunk(self, auth_id: str, trunk_id: str) -> None:
        c = t.trunks.c
        stmt = sa.delete(t.trunks).where(c.auth_id == auth_id, c.trunk_id == trunk_id)
        await self._change(stmt, missing=f"trunk {trunk_id}")

    # -- call records ---------------------------------------------------------

    async def write_records(
        self,
        records: Sequence[CallRecord],
        outbox: OutboxChanges | None = None,
        traced: TraceBatch | None = None,
    ) -> None:
        """Upsert records by call_uuid (the last of duplicates wins) and apply the
        ``outbox`` changes (the callbacks these records owe, deliveries...) and the
        ``traced`` rows (call inspector), all in one transaction."""
        latest = {r.call_uuid: r for r in records}
        if not latest:
            if outbox or traced:
                async with self._engine.begin() as conn:
                    if outbox:
                        await self.outbox.apply(conn, outbox)
                    if traced:
                        await self._traces.write(conn, traced)
            return
        params = [{**rows.record_row(r), "node": self.node} for r in latest.values()]
        c = t.call_records.c
        # Only this writer writes these records, so what exists now still will at
        # the upsert. Asked as a read (on SQLite, on the loop's read connection)
        # rather than in the write transaction, which would add trips to aiosqlite's
        # thread to every batch.
        known = sa.select(c.call_uuid).where(c.call_uuid.in_(list(latest)))
        old = {row.call_uuid for row in await self._all(known)}
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert_records, params)
            if outbox:
                await self.outbox.apply(conn, outbox)
            if traced:
                await self._traces.write(conn, traced)
        self._count_added([r for uuid, r in latest.items() if uuid not in old], latest.values())

    def _count_added(self, added: list[CallRecord], written: Iterable[CallRecord]) -> None:
        """Keep the cached counts of the accounts whose records were written exact: an
        account's total grows by its new records, and filtered counts are forgotten
        (an update can move a record in or out of a filter). Counting 100,000 records
        again after every batch kept list requests waiting while calls were ending."""
        accounts = {r.auth_id for r in written}
        self._call_counts.forget(lambda key: key[0] in accounts and key[1] != ())
        new = Counter(r.auth_id for r in added)
        for auth_id in accounts:
            self._call_counts.change((auth_id, ()), functools.partial(operator.add, new[auth_id]))

    async def get_call(
        self, auth_id: str, call_uuid: str, *, include_subaccounts: bool = False
    ) -> CallRecord | None:
        params = {"auth_id": auth_id, "call_uuid": call_uuid}
        row = await self._first(_call_query(include_subaccounts), params)
        return rows.call_record(row) if row else None

    async def list_calls(
        self,
        auth_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Mapping[str, str | int | datetime | tuple[str, ...]] | None = None,
    ) -> Page[CallRecord]:
        """Records newest first.

        ``filters`` are equality tests on CALL_FILTERS columns, comparisons on
        CALL_RANGE_FILTERS columns named Plivo's way (``bill_duration__gte``), or
        ``column__in`` (a tuple) on CALL_SET_FILTERS columns.
        """
        filters = dict(filters or {})
        count, page = _calls_queries(tuple(sorted(filters)))
        where = {"auth_id": auth_id, **filters}
        total = await self._call_counts.get(
            (auth_id, tuple(sorted(filters.items()))),
            lambda: self._reads.run(lambda conn: int(conn.execute(count, where).scalar_one())),
        )
        found = await self._all(page, {**where, "limit": limit, "offset": offset})
        return Page([rows.call_record(row) for row in found], total)

    # -- call inspector (issue 16) ---------------------------------------------

    async def get_trace(
        self, auth_id: str, call_uuid: str, *, include_subaccounts: bool = False
    ) -> StoredTrace | None:
        owned = _owned(t.call_traces.c.auth_id, auth_id, include_subaccounts)
        row = await self._first(traces.trace_query(owned), {"call_uuid": call_uuid})
        return traces.trace_of(row) if row else None

    async def list_debugger_events(
        self, auth_id: str, *, limit: int = 20, offset: int = 0, filters: Mapping[str, str]
    ) -> Page[DebuggerEvent]:
        """``auth_id``'s own Debugger events, newest first (``level``, ``kind``,
        ``call_uuid`` filters)."""
        stmt = traces.events_query(auth_id, dict(filters))
        return await self._page(stmt, limit, offset, traces.event_of)

    async def delete_traces_before(self, before: datetime) -> None:
        """Forget traces and Debugger events older than ``before`` (retention)."""
        async with self._engine.begin() as conn:
            for stmt in traces.expired(before):
                await conn.execute(stmt)

    async def usage(
        self, auth_id: str, start: date, end: date, *, period: str = "day"
    ) -> list[UsagePeriod]:
        """Ended calls that started from ``start`` to ``end`` (inclusive, UTC), per day or
        month: calls, answered, rejected (refused before answer), billed seconds, cost."""
        if period not in USAGE_PERIODS:
            raise ValidationError("period", "must be day or month")
        if end < start:
            raise ValidationError("to", "must not be before from")
        c = t.call_records.c
        bucket = date_bucket(self._engine.dialect.name, c.initiation_time, period)
        answered = c.answer_time.is_not(None)
        rejected = sa.and_(c.answer_time.is_(None), c.hangup_cause_code.between(*REJECT_CODES))
        amount = sa.cast(c.total_amount, sa.Numeric(18, 5))
        stmt = (
            sa.select(
                bucket.label("period"),
                sa.func.count().label("calls"),
                sa.func.sum(sa.case((answered, 1), else_=0)).label("answered_calls"),
                sa.func.sum(sa.case((rejected, 1), else_=0)).label("rejected_calls"),
                sa.func.sum(sa.case((answered, c.billed_duration), else_=0)).label("billed"),
                sa.type_coerce(sa.func.sum(sa.case((answered, amount), else_=0)), sa.String).label(
                    "cost"
                ),
            )
            .where(
                c.auth_id == auth_id,
                c.state == "ended",
                c.initiation_time >= _midnight(start),
                c.initiation_time < _midnight(end + timedelta(days=1)),
            )
            .group_by(bucket)
            .order_by(bucket)
        )
        return [_usage_period(row) for row in await self._all(stmt)]

    # -- recordings -----------------------------------------------------------

    async def add_recording(self, recording: Recording) -> Recording:
        """Store a finished recording (``add_time`` defaults to now)."""
        recording = replace(recording, add_time=recording.add_time or _now())
        columns = {column.name: getattr(recording, column.name) for column in t.recordings.c}
        await self._write(sa.insert(t.recordings).values(**columns))
        return recording

    async def get_recording(
        self, auth_id: str, recording_id: str, *, include_subaccounts: bool = False
    ) -> Recording | None:
        c = t.recordings.c
        owned = _owned(c.auth_id, auth_id, include_subaccounts)
        row = await self._first(_recording_query().where(owned, c.recording_id == recording_id))
        return _recording_of(row) if row else None

    async def list_recordings(
        self,
        auth_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Mapping[str, str | datetime] | None = None,
    ) -> Page[Recording]:
        """Recordings newest first; ``filters`` as ``list_calls`` (RECORDING_FILTERS,
        ``add_time__gte``...). ``from_number``/``to_number`` are the call's."""
        c = t.recordings.c
        stmt = _recording_query().where(c.auth_id == auth_id)
        for name, value in (filters or {}).items():
            stmt = stmt.where(_recording_condition(name, value))
        stmt = stmt.order_by(c.add_time.desc(), c.recording_id.desc())
        return await self._page(stmt, limit, offset, _recording_of)

    async def delete_recording(self, auth_id: str, recording_id: str) -> None:
        """Delete the row and its file (a file already gone is fine)."""
        recording = await self.get_recording(auth_id, recording_id)
        if recording is None:
            raise NotFound(f"recording {recording_id}")
        c = t.recordings.c
        stmt = sa.delete(t.recordings).where(c.auth_id == auth_id, c.recording_id == recording_id)
        await self._write(stmt, missing=f"recording {recording_id}")
        await asyncio.to_thread(Path(recording.path).unlink, missing_ok=True)

    async def live_records(self, node: str) -> list[CallRecord]:
        """Records node ``node`` left live: calls a crash interrupted (start-up recovery,
        or a cluster survivor closing a lost node's calls)."""
        c = t.call_records.c
        stmt = rows.select_records().where(c.state == "live", c.node == node)
        return [rows.call_record(row) for row in await self._all(stmt)]

    async def last_activity(self, node: str) -> datetime | None:
        """The newest moment node ``node``'s call records show: the latest start, answer
        or end it wrote. A crashed node was alive at least until then."""
        c = t.call_records.c
        stmt = sa.select(
            sa.func.max(c.initiation_time), sa.func.max(c.answer_time), sa.func.max(c.end_time)
        ).where(c.node == node)
        found = await self._first(stmt)
        stamps = [stamp for stamp in (found or ()) if stamp is not None]
        return max(stamps) if stamps else None


_FLOW_COLUMNS = ("flow_id", "auth_id", "name", "document", "created", "updated")
_PUBLISH_ATTEMPTS = 3


def _flow_query() -> sa.Select[Any]:
    """Flows with the number of their newest published version (None: never published)."""
    v = t.flow_versions.c
    newest = sa.select(sa.func.max(v.version)).where(v.flow_id == t.flows.c.flow_id)
    return sa.select(t.flows, newest.scalar_subquery().label("published_version"))


async def _number_flows(conn: AsyncConnection) -> dict[str, FlowVersion]:
    """The newest published version of every flow a number runs, by flow id."""
    v, n = t.flow_versions.c, t.numbers.c
    newest = (
        sa.select(v.flow_id, sa.func.max(v.version).label("version"))
        .where(v.flow_id.in_(sa.select(n.flow_id).where(n.flow_id.is_not(None))))
        .group_by(v.flow_id)
        .subquery()
    )
    stmt = sa.select(t.flow_versions).join(
        newest, sa.and_(v.flow_id == newest.c.flow_id, v.version == newest.c.version)
    )
    found = [rows.from_row(FlowVersion, row) for row in await conn.execute(stmt)]
    return {version.flow_id: version for version in found}


def _flow_run(row: Row[Any]) -> FlowRun:
    values = row._asdict()
    values["variables"] = dict(values["variables"] or {})
    values["log"] = list(values["log"] or [])
    return FlowRun(**values)


async def _owned_flow(conn: AsyncConnection, auth_id: str, flow_id: str) -> str | None:
    c = t.flows.c
    stmt = sa.select(c.flow_id).where(c.auth_id == auth_id, c.flow_id == flow_id)
    found: str | None = (await conn.execute(stmt)).scalar_one_or_none()
    return found


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _usage_period(row: Row[Any]) -> UsagePeriod:
    cost = Decimal(str(row.cost or 0)).quantize(Decimal("0.00001"))
    return UsagePeriod(
        period=row.period,
        calls=int(row.calls),
        answered_calls=int(row.answered_calls or 0),
        rejected_calls=int(row.rejected_calls or 0),
        billed_seconds=int(row.billed or 0),
        cost=f"{cost:.5f}",
    )


def _credentials_in(conn: Connection) -> tuple[list[Account], list[tuple[str, str]]]:
    """Every account, and the (auth id, SHA-256) of every API key secret."""
    accounts = [rows.account(row) for row in conn.execute(sa.select(t.accounts))]
    c = t.api_keys.c
    keys = [
        (row.auth_id, row.secret_sha256)
        for row in conn.execute(sa.select(c.auth_id, c.secret_sha256))
    ]
    return accounts, keys


async def _load(
    conn: AsyncConnection, table: sa.Table, convert: Callable[[Row[Any]], T]
) -> list[T]:
    return [convert(row) for row in await conn.execute(sa.select(table))]


async def _move_account_rows(conn: AsyncConnection, old: str, new: str) -> None:
    """Tables without a cascading foreign key to accounts follow a new auth id by hand."""
    for table in (t.call_records, t.pending_callbacks, t.recordings):
        await conn.execute(sa.update(table).where(table.c.auth_id == old).values(auth_id=new))
    parent = t.accounts.c.parent_auth_id
    await conn.execute(sa.update(t.accounts).where(parent == old).values(parent_auth_id=new))


async def _clear_other_defaults(conn: AsyncConnection, app: Application) -> None:
    """At most one default number app and one default endpoint app per account."""
    c = t.applications.c
    others = sa.update(t.applications).where(c.auth_id == app.auth_id, c.app_id != app.app_id)
    if app.default_number_app:
        await conn.execute(others.values(default_number_app=False))
    if app.default_endpoint_app:
        await conn.execute(others.values(default_endpoint_app=False))


async def _check_numbers_free(conn: AsyncConnection, digits: list[str]) -> None:
    stmt = sa.select(t.numbers.c.number).where(t.numbers.c.number.in_(digits))
    taken = (await conn.execute(stmt)).first()
    if taken is not None:
        raise ValidationError("numbers", f"{taken.number} is already added")


def _owned(
    column: sa.ColumnElement[Any], auth_id: str | sa.BindParameter[str], include_subaccounts: bool
) -> Any:
    """``column`` names ``auth_id`` (or, with ``include_subaccounts``, one of its children)."""
    if not include_subaccounts:
        return column == auth_id
    a = t.accounts.c
    family = sa.select(a.auth_id).where(sa.or_(a.auth_id == auth_id, a.parent_auth_id == auth_id))
    return column.in_(family)


def _app_query(auth_id: str, app_id: str, include_subaccounts: bool = False) -> sa.Select[Any]:
    c = t.applications.c
    owned = _owned(c.auth_id, auth_id, include_subaccounts)
    return sa.select(t.applications).where(owned, c.app_id == app_id)


def _number_query(auth_id: str, number: str, include_subaccounts: bool = False) -> sa.Select[Any]:
    c = t.numbers.c
    owned = _owned(c.auth_id, auth_id, include_subaccounts)
    return sa.select(t.numbers).where(owned, c.number == number.lstrip("+"))


def _recording_of(row: Row[Any]) -> Recording:
    return rows.from_row(Recording, row)


def _recording_query() -> sa.Select[Any]:
    """Recordings with their call's from/to numbers ("" when the call has no record)."""
    r, c = t.recordings, t.call_records.c
    return sa.select(
        r,
        sa.func.coalesce(c.from_number, "").label("from_number"),
        sa.func.coalesce(c.to_number, "").label("to_number"),
    ).select_from(r.outerjoin(t.call_records, c.call_uuid == r.c.call_uuid))


def _recording_condition(name: str, value: Any) -> Any:
    column, _, op = name.partition("__")
    if column not in RECORDING_FILTERS or (
        op and (column not in RECORDING_RANGE_FILTERS or op not in _RANGE_OPS)
    ):
        raise ValidationError(name, "unknown filter")
    table = t.call_records if column in ("from_number", "to_number") else t.recordings
    col = table.c[column]
    return _RANGE_OPS[op](col, value) if op else col == value


@functools.cache
def _call_query(include_subaccounts: bool) -> sa.Select[Any]:
    """One record by ``:call_uuid``, owned by ``:auth_id`` (or a sub-account of it).

    Statements are built once and take their values as parameters: building and
    keying a statement per request cost as much as reading a 20-row page.
    """
    c = t.call_records.c
    owned = _owned(c.auth_id, sa.bindparam("auth_id"), include_subaccounts)
    return rows.select_records().where(owned, c.call_uuid == sa.bindparam("call_uuid"))


@functools.lru_cache(maxsize=256)
def _calls_queries(filters: tuple[str, ...]) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The count and the ``:limit``/``:offset`` page of ``:auth_id``'s records, newest
    first, where each of ``filters`` compares its column with the parameter of its name."""
    c = t.call_records.c
    stmt = rows.select_records().where(c.auth_id == sa.bindparam("auth_id"))
    for name in filters:
        value: sa.BindParameter[Any] = sa.bindparam(name, expanding=name.endswith("__in"))
        stmt = stmt.where(_call_condition(name, value))
    page = stmt.order_by(c.initiation_time.desc(), c.call_uuid.desc())
    return count_of(stmt), page.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def _call_condition(name: str, value: Any) -> Any:
    """``column == value``, a comparison for Plivo's ``column__gt`` etc., or
    ``column__in`` (one of the values)."""
    column, _, op = name.partition("__")
    ranged = column in CALL_RANGE_FILTERS and op in _RANGE_OPS
    one_of = column in CALL_SET_FILTERS and op == "in"
    if column not in CALL_FILTERS or (op and not (ranged or one_of)):
        raise ValidationError(name, "unknown filter")
    col = t.call_records.c[column]
    if one_of:
        return col.in_(value)
    return _RANGE_OPS[op](col, value) if op else col == value


async def _adopt(conn: AsyncConnection, child: str, parent: str) -> None:
    """Give a sub-account's configuration to its parent (defaults stay the parent's)."""
    apps = t.applications
    await conn.execute(
        sa.update(apps)
        .where(apps.c.auth_id == child)
        .values(auth_id=parent, default_number_app=False, default_endpoint_app=False)
    )
    for table in (t.numbers, t.endpoints, t.block_rules, t.flows, t.trunks):
        await conn.execute(sa.update(table).where(table.c.auth_id == child).values(auth_id=parent))


def _check_account(account: Account) -> Account:
    if account.inbound_cps <= 0:
        raise ValidationError("inbound_cps", "must be more than 0")
    if account.billing_interval <= 0:
        raise ValidationError("billing_interval", "must be more than 0")
    return replace(account, rate_per_minute=check_rate(account.rate_per_minute))
