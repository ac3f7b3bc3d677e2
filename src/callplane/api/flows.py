"""``/v1/Account/{auth_id}/Flow/``: visual call flows (Callplane's PHLO).

A flow is a draft document that any save may change, plus published versions
that never change. Saving checks the document's shape only (``flows.model``), so
a half-built flow can be kept; ``Validate`` lists what is wrong per node and
``Publish`` refuses (400, with the same list) until nothing is.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callplane.api.http import (
    authenticate,
    field_errors,
    integer,
    list_reply,
    page_args,
    parse_fields,
    read_body,
    reply,
    store_of,
    text,
)
from callplane.api.shapes import account_uri, plivo_time
from callplane.errors import NotFound, ValidationError
from callplane.flows import Flow, validate
from callplane.flows.model import empty_document
from callplane.flows.validate import by_node
from callplane.store.models import FlowVersion, StoredFlow


def document(name: str, value: Any) -> dict[str, Any]:
    """A flow document: a JSON object, or its text (form bodies); FlowError if malformed."""
    flow = Flow.loads(value) if isinstance(value, str) else Flow.parse(value)
    return flow.to_dict()


FIELDS = {"name": text, "document": document}


def _uri(auth_id: str, flow_id: str) -> str:
    return f"{account_uri(auth_id)}Flow/{flow_id}/"


def summary(flow: StoredFlow) -> dict[str, Any]:
    return {
        "flow_id": flow.flow_id,
        "name": flow.name,
        "published_version": flow.published_version,
        "created": plivo_time(flow.created),
        "updated": plivo_time(flow.updated),
        "resource_uri": _uri(flow.auth_id, flow.flow_id),
    }


def version_shape(auth_id: str, version: FlowVersion) -> dict[str, Any]:
    return {
        "flow_id": version.flow_id,
        "version": version.version,
        "published": plivo_time(version.published),
        "resource_uri": f"{_uri(auth_id, version.flow_id)}Version/{version.version}/",
    }


def _named(values: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """The document to save, its ``name`` set from the ``name`` field when given."""
    doc = values.get("document") or current
    name = values.get("name") or (doc or {}).get("name", "")
    if doc is None:
        return empty_document(name)
    return {**doc, "name": name.strip()}


async def owned_flow(request: Request) -> StoredFlow:
    """The flow of the path's ``flow_id``, if the caller's account owns it; else 404."""
    account = await authenticate(request)
    flow_id = request.path_params["flow_id"]
    flow = await store_of(request).get_flow(account.auth_id, flow_id)
    if flow is None:
        raise NotFound(f"flow {flow_id}")
    return flow


async def create(request: Request) -> Response:
    account = await authenticate(request)
    values = parse_fields(await read_body(request), FIELDS)
    if not values.get("document") and not values.get("name"):
        raise ValidationError("document", "required (or a name, for an empty flow)")
    doc = _named(values, None)
    flow = await store_of(request).create_flow(account.auth_id, doc["name"], doc)
    return reply(201, flow_id=flow.flow_id, name=flow.name, message="created")


async def list_(request: Request) -> Response:
    account = await authenticate(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_flows(account.auth_id, limit=limit, offset=offset)
    return list_reply(request, page, limit, offset, [summary(f) for f in page.items])


async def get(request: Request) -> Response:
    flow = await owned_flow(request)
    return reply(**summary(flow), document=flow.document)


async def modify(request: Request) -> Response:
    """Save the draft (a new document, a new name, or both)."""
    flow = await owned_flow(request)
    values = parse_fields(await read_body(request), FIELDS)
    if not values.get("document") and not values.get("name"):
        raise ValidationError("document", "required (or a name)")
    doc = _named(values, flow.document)
    saved = await store_of(request).update_flow(
        flow.auth_id, flow.flow_id, name=doc["name"], document=doc
    )
    return reply(202, flow_id=saved.flow_id, name=saved.name, message="changed")


async def delete(request: Request) -> Response:
    flow = await owned_flow(request)
    await store_of(request).delete_flow(flow.auth_id, flow.flow_id)
    return reply(204)


async def check(request: Request) -> Response:
    """Validate the draft: ``valid`` and the problems, each with its node (null: the flow)."""
    flow = await owned_flow(request)
    problems = validate(Flow.parse(flow.document))
    errors = [p.to_dict() for p in problems]
    return reply(flow_id=flow.flow_id, valid=not problems, errors=errors)


async def publish(request: Request) -> Response:
    """Validate the draft and store it as the next version; 400 with the problems if invalid."""
    flow = await owned_flow(request)
    problems = validate(Flow.parse(flow.document))
    if problems:
        fields = {node: "; ".join(messages) for node, messages in by_node(problems).items()}
        return reply(400, **field_errors(fields), errors=[p.to_dict() for p in problems])
    version = await store_of(request).publish_flow(flow.auth_id, flow.flow_id, flow.document)
    return reply(201, **version_shape(flow.auth_id, version), message="published")


async def versions(request: Request) -> Response:
    flow = await owned_flow(request)
    limit, offset = page_args(request.query_params)
    page = await store_of(request).list_flow_versions(
        flow.auth_id, flow.flow_id, limit=limit, offset=offset
    )
    objects = [version_shape(flow.auth_id, v) for v in page.items]
    return list_reply(request, page, limit, offset, objects)


async def version(request: Request) -> Response:
    flow = await owned_flow(request)
    number = integer("version", request.path_params["version"])
    found = await store_of(request).get_flow_version(flow.auth_id, flow.flow_id, number)
    if found is None:
        raise NotFound(f"version {number} of flow {flow.flow_id}")
    return reply(**version_shape(flow.auth_id, found), document=found.document)
