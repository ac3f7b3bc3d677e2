"""``/v1/Account/{auth_id}/Blocklist/`` (Callplane's own): callers refused without a webhook."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    changed,
    list_reply,
    page_args,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)
from callplane.errors import NotFound
from callplane.store.models import BlockRule
from callplane.store.validation import parse_match

FIELDS = {"match": text, "pattern": text, "reason": text, "number": text, "app_id": text}


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS)
    rule = BlockRule(
        rule_id="",
        auth_id=account.auth_id,
        match=parse_match(values.get("match") or "exact"),
        pattern=values.get("pattern", ""),
        reason=values.get("reason") or "rejected",
        number=values.get("number") or None,
        app_id=values.get("app_id") or None,
    )
    rule = await store_of(request).add_block_rule(rule)
    await changed(request)
    return reply(201, rule_id=rule.rule_id, message="created")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_block_rules(account.auth_id, limit=limit, offset=offset)
    objects = [shapes.block_rule(rule) for rule in page.items]
    return list_reply(request, page, limit, offset, objects)


async def get(request: Request) -> Response:
    account = await authenticate(request)
    rule_id = request.path_params["rule_id"]
    rule = await store_of(request).get_block_rule(account.auth_id, rule_id)
    if rule is None:
        raise NotFound(f"block rule {rule_id}")
    return reply(**shapes.block_rule(rule))


async def delete(request: Request) -> Response:
    account = await authenticate(request)
    await store_of(request).delete_block_rule(account.auth_id, request.path_params["rule_id"])
    await changed(request)
    return reply(204)
