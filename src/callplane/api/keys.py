"""``/v1/Account/{auth_id}/ApiKey/`` (Callplane's own): named credentials.

A key authenticates like the auth token (Basic ``auth_id:secret``) and can be
revoked alone. The secret is in the create reply only; the store keeps its SHA-256.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callplane.api import shapes
from callplane.api.http import (
    authenticate,
    list_reply,
    page_args,
    parse_fields,
    read_body,
    reply,
    required,
    store_of,
    text,
)

FIELDS = {"name": text}


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS)
    key, secret = await store_of(request).create_api_key(account.auth_id, required(values, "name"))
    return reply(201, **shapes.api_key(key), secret=secret, message="created")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_api_keys(account.auth_id, limit=limit, offset=offset)
    return list_reply(request, page, limit, offset, [shapes.api_key(k) for k in page.items])


async def revoke(request: Request) -> Response:
    account = await authenticate(request)
    await store_of(request).revoke_api_key(account.auth_id, request.path_params["key_id"])
    return reply(204)
