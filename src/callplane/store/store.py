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
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callplane.errors import NotFound, ValidationError
from callplane.store import rows
from callplane.store import tables as t
from callplane.store.ids import new_app_id, new_auth_id, new_auth_token, new_rule_id
from callplane.store.models import (
    Account,
    Application,
    BlockRule,
    CallRecord,
    Number,
    Route,
)
from callplane.store.outbox import SqlOutbox
from callplane.store.routes import build_routes
from callplane.store.sql import count_of, install_sqlite_pragmas, upsert
from callplane.store.validation import (
    check_non_negative,
    normalise_number,
    validate_application,
    validate_block_rule,
)

T = TypeVar("T")

_MAIN_AUTH_ID = re.compile(r"MA[A-Z0-9]{18}")
_FIXED_FIELDS = frozenset({"app_id", "auth_id", "created", "number", "added_on"})
_NUMBER_FIELDS = frozenset(
    {"app_id", "alias", "carrier", "region", "number_type", "max_concurrent_calls"}
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
    }
)
_DUMMY_TOKEN = b"x" * 40


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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._upsert_records = upsert(engine.dialect.name, t.call_records, "call_uuid")
        self._routes: dict[str, Route] = {}
        self._reload_lock = asyncio.Lock()
        self.outbox = SqlOutbox(engine)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create missing tables and load the routing table."""
        engine = create_async_engine(url)
        if engine.dialect.name == "sqlite":
            install_sqlite_pragmas(engine)
        async with engine.begin() as conn:
            await conn.run_sync(t.metadata.create_all)
        store = cls(engine)
        await store.reload_routes()
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    # -- plumbing -------------------------------------------------------------

    async def _first(self, stmt: sa.Select[Any]) -> Row[Any] | None:
        async with self._engine.connect() as conn:
            row: Row[Any] | None = (await conn.execute(stmt)).first()
            return row

    async def _all(self, stmt: sa.Select[Any]) -> list[Row[Any]]:
        async with self._engine.connect() as conn:
            return list(await conn.execute(stmt))

    async def _page(
        self, stmt: sa.Select[Any], limit: int, offset: int, convert: Callable[[Row[Any]], T]
    ) -> Page[T]:
        async with self._engine.connect() as conn:
            total = (await conn.execute(count_of(stmt))).scalar_one()
            result = await conn.execute(stmt.limit(limit).offset(offset))
            return Page([convert(row) for row in result], total)

    async def _change(self, stmt: sa.Executable, missing: str | None = None) -> None:
        """Run one configuration write, then reload routes; NotFound if no row hit."""
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        if missing is not None and result.rowcount == 0:
            raise NotFound(missing)
        await self.reload_routes()

    # -- routing table --------------------------------------------------------

    async def reload_routes(self) -> None:
        """Read numbers, accounts, applications and rules into the routing table."""
        async with self._reload_lock, self._engine.connect() as conn:
            accounts = await _load(conn, t.accounts, rows.account)
            apps = await _load(conn, t.applications, rows.application)
            numbers = await _load(conn, t.numbers, rows.number)
            rules = await _load(conn, t.block_rules, rows.block_rule)
        self._routes = build_routes(
            {a.auth_id: a for a in accounts}, {a.app_id: a for a in apps}, numbers, rules
        )

    def route(self, number: str) -> Route | None:
        """The route of a dialled number ("+" optional), from memory."""
        return self._routes.get(number.lstrip("+"))

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
        await self.reload_routes()

    async def get_account(self, auth_id: str) -> Account | None:
        row = await self._first(sa.select(t.accounts).where(t.accounts.c.auth_id == auth_id))
        return rows.account(row) if row else None

    async def authenticate(self, auth_id: str, token: str) -> Account | None:
        """The enabled account with these credentials (constant-time token check)."""
        account = await self.get_account(auth_id)
        expected = account.auth_token.encode() if account else _DUMMY_TOKEN
        if not hmac.compare_digest(expected, token.encode()):
            return None
        return account if account and account.enabled else None

    async def update_account(
        self,
        auth_id: str,
        *,
        name: str | None = None,
        inbound_cps: float | None = None,
        enabled: bool | None = None,
        rate_per_minute: str | None = None,
        billing_interval: int | None = None,
    ) -> Account:
        current = await self.get_account(auth_id)
        if current is None:
            raise NotFound(f"account {auth_id}")
        changes: dict[str, Any] = {
            "name": name,
            "inbound_cps": inbound_cps,
            "enabled": enabled,
            "rate_per_minute": rate_per_minute,
            "billing_interval": billing_interval,
        }
        account = replace(current, **{k: v for k, v in changes.items() if v is not None})
        _check_account(account)
        stmt = sa.update(t.accounts).where(t.accounts.c.auth_id == auth_id)
        await self._change(stmt.values(**rows.to_row(account)))
        return account

    # -- applications ---------------------------------------------------------

    async def create_application(self, app: Application) -> Application:
        """Store a new application; an empty ``app_id`` gets a fresh one."""
        app = replace(app, app_id=app.app_id or new_app_id(), created=app.created or _now())
        app = validate_application(app)
        async with self._engine.begin() as conn:
            await _clear_other_defaults(conn, app)
            await conn.execute(sa.insert(t.applications).values(**rows.to_row(app)))
        await self.reload_routes()
        return app

    async def get_application(self, auth_id: str, app_id: str) -> Application | None:
        row = await self._first(_app_query(auth_id, app_id))
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
        await self.reload_routes()
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
        await self.reload_routes()
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

    async def get_number(self, auth_id: str, number: str) -> Number | None:
        row = await self._first(_number_query(auth_id, number))
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
        """Change app_id ("" or None unassigns), alias, max_concurrent_calls, carrier..."""
        current = await self.get_number(auth_id, number)
        if current is None:
            raise NotFound(f"number {number}")
        updated = _changed(current, changes, _NUMBER_FIELDS)
        if updated.app_id and await self.get_application(auth_id, updated.app_id) is None:
            raise ValidationError("app_id", f"no application {updated.app_id}")
        updated = replace(updated, app_id=updated.app_id or None)
        check_non_negative("max_concurrent_calls", updated.max_concurrent_calls)
        stmt = sa.update(t.numbers).where(t.numbers.c.number == current.number)
        await self._change(stmt.values(**rows.to_row(updated)))
        return updated

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

    # -- call records ---------------------------------------------------------

    async def write_records(self, records: Sequence[CallRecord]) -> None:
        """Upsert records by call_uuid in one transaction (the last of duplicates wins)."""
        latest = {r.call_uuid: r for r in records}
        if not latest:
            return
        params = [rows.record_row(r) for r in latest.values()]
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert_records, params)

    async def get_call(self, auth_id: str, call_uuid: str) -> CallRecord | None:
        c = t.call_records.c
        stmt = sa.select(t.call_records).where(c.auth_id == auth_id, c.call_uuid == call_uuid)
        row = await self._first(stmt)
        return rows.call_record(row) if row else None

    async def list_calls(
        self,
        auth_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: Mapping[str, str | int] | None = None,
    ) -> Page[CallRecord]:
        """Records newest first; ``filters`` are equality tests on CALL_FILTERS columns."""
        c = t.call_records.c
        stmt = sa.select(t.call_records).where(c.auth_id == auth_id)
        for name, value in (filters or {}).items():
            if name not in CALL_FILTERS:
                raise ValidationError(name, "unknown filter")
            stmt = stmt.where(c[name] == value)
        stmt = stmt.order_by(c.initiation_time.desc().nulls_last(), c.call_uuid.desc())
        return await self._page(stmt, limit, offset, rows.call_record)

    async def live_records(self) -> list[CallRecord]:
        """Records still marked live: calls a crash interrupted (start-up recovery)."""
        stmt = sa.select(t.call_records).where(t.call_records.c.state == "live")
        return [rows.call_record(row) for row in await self._all(stmt)]


async def _load(
    conn: AsyncConnection, table: sa.Table, convert: Callable[[Row[Any]], T]
) -> list[T]:
    return [convert(row) for row in await conn.execute(sa.select(table))]


async def _move_account_rows(conn: AsyncConnection, old: str, new: str) -> None:
    """Tables without a cascading foreign key to accounts follow a new auth id by hand."""
    for table in (t.call_records, t.pending_callbacks):
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


def _app_query(auth_id: str, app_id: str) -> sa.Select[Any]:
    c = t.applications.c
    return sa.select(t.applications).where(c.auth_id == auth_id, c.app_id == app_id)


def _number_query(auth_id: str, number: str) -> sa.Select[Any]:
    c = t.numbers.c
    return sa.select(t.numbers).where(c.auth_id == auth_id, c.number == number.lstrip("+"))


def _check_account(account: Account) -> None:
    if account.inbound_cps <= 0:
        raise ValidationError("inbound_cps", "must be more than 0")
    if account.billing_interval <= 0:
        raise ValidationError("billing_interval", "must be more than 0")
