"""Answer documents -> the one verb model (design.md §2).

:func:`parse_document` takes the body an answer/action URL returned and gives
a :class:`~callplane.markup.verbs.Document`, or raises
:class:`~callplane.errors.MarkupError` naming element, attribute and allowed
values. Nothing here executes a verb.

Dialect detection (skipped when the application pins its dialect):

1. JSON -- the body starts with ``{`` or the Content-Type says ``json`` --
   is VoXML; it must carry ``voxml_version``.
2. Otherwise the body is XML. Its elements are read in document order; the
   first that only one dialect has decides:

   * Plivo: ``Speak``, ``GetInput``, ``GetDigits``, ``Wait``, ``PreAnswer``,
     ``DTMF``, ``User``, ``Conference`` directly under ``Response``, and
     ``Hangup`` with an attribute (``reason``/``schedule``), ``Stream`` directly
     under ``Response``;
   * TwiML/RCML: ``Say``, ``Gather``, ``Pause``, ``Reject``, ``Client``,
     ``Sip``, ``Sms``, ``Connect``, ``Start``, ``Stop``, ``Play`` with
     ``digits``, ``Conference`` inside ``Dial``.

3. A document with only shared elements (``Play``, ``Redirect``, ``Hangup``,
   ``Dial``/``Number``, ``Record``, ``Message``) is ambiguous and compiles as
   Plivo XML -- our native dialect, and the two agree on those elements.

Relative URLs (``<Redirect>/next</Redirect>``) are resolved against the URL the
document was fetched from when the caller passes it (:mod:`~callplane.markup.urls`).

Bounds: a document is at most ``MAX_DOCUMENT_SIZE`` bytes (64 KiB, Twilio's
limit too; the webhook client reads at most 1 MiB) and holds at most 1,000
elements nested at most 32 deep (``_xml.MAX_ELEMENTS``/``MAX_DEPTH``; for VoXML,
arrays and objects). Anything over is a MarkupError, i.e. an invalid document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from callplane.errors import MarkupError
from callplane.markup import plivo_xml, twiml, voxml
from callplane.markup._xml import parse_xml
from callplane.markup.urls import resolve_urls
from callplane.markup.verbs import Dialect, Document

__all__ = ["MAX_DOCUMENT_SIZE", "detect_dialect", "parse_document"]

MAX_DOCUMENT_SIZE = 64 << 10  # bytes; Twilio's limit for TwiML too

PLIVO_ELEMENTS = frozenset({"Speak", "GetInput", "GetDigits", "Wait", "PreAnswer", "DTMF", "User"})
TWIML_ELEMENTS = frozenset(
    {"Say", "Gather", "Pause", "Reject", "Client", "Sip", "Sms", "Connect", "Start", "Stop"}
)


def parse_document(
    body: bytes | str,
    content_type: str | None = None,
    dialect: Dialect | None = None,
    base_url: str = "",
) -> Document:
    """Detect the dialect of ``body`` (unless pinned) and compile it; with ``base_url``
    (the URL the body came from) its relative URLs are resolved against it."""
    document = _compile(body, content_type, dialect)
    return resolve_urls(document, base_url) if base_url else document


def _compile(body: bytes | str, content_type: str | None, dialect: Dialect | None) -> Document:
    _check_size(body)
    if dialect is Dialect.VOXML or (dialect is None and _is_json(body, content_type)):
        return voxml.compile(body)
    root = parse_xml(body)
    if (dialect or _xml_dialect(root)) is Dialect.TWIML:
        return twiml.compile_tree(root)
    return plivo_xml.compile_tree(root)


def detect_dialect(body: bytes | str, content_type: str | None = None) -> Dialect:
    """The dialect :func:`parse_document` would compile ``body`` as."""
    _check_size(body)
    if _is_json(body, content_type):
        return Dialect.VOXML
    return _xml_dialect(parse_xml(body))


def _check_size(body: bytes | str) -> None:
    if not _strip(body):
        raise MarkupError("empty document")
    if len(body) > MAX_DOCUMENT_SIZE:
        raise MarkupError(f"document larger than {MAX_DOCUMENT_SIZE} bytes")


def _strip(body: bytes | str) -> bytes | str:
    if isinstance(body, bytes):
        return body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    return body.lstrip().removeprefix("\ufeff").lstrip()


def _is_json(body: bytes | str, content_type: str | None) -> bool:
    if content_type is not None and "json" in content_type.lower():
        return True
    head = _strip(body)
    return head.startswith(b"{") if isinstance(head, bytes) else head.startswith("{")


def _xml_dialect(root: ET.Element) -> Dialect:
    for parent, element in _walk(root):
        dialect = _element_dialect(parent, element)
        if dialect is not None:
            return dialect
    return Dialect.PLIVO


def _walk(parent: ET.Element) -> Iterator[tuple[ET.Element, ET.Element]]:
    for child in parent:
        yield parent, child
        yield from _walk(child)


def _element_dialect(parent: ET.Element, element: ET.Element) -> Dialect | None:
    tag = element.tag
    if tag in PLIVO_ELEMENTS or (tag == "Hangup" and element.attrib):
        return Dialect.PLIVO
    if tag in TWIML_ELEMENTS or (tag == "Play" and "digits" in element.attrib):
        return Dialect.TWIML
    if tag == "Conference":
        return Dialect.TWIML if parent.tag == "Dial" else Dialect.PLIVO
    if tag == "Stream" and parent.tag == "Response":
        return Dialect.PLIVO
    return None
