"""Safe XML parsing and the element walk shared by the XML dialects.

Documents come from customer servers, so parsing refuses every DTD: a
``<!DOCTYPE`` or ``<!ENTITY`` declaration is a :class:`MarkupError`, which
rules out external entities (XXE) and entity expansion (billion laughs).
A document holds at most ``MAX_ELEMENTS`` elements, nested at most
``MAX_DEPTH`` deep; parsing stops at the first element over either bound, so a
hostile document costs little to refuse. Expat feeds ElementTree's
``TreeBuilder`` directly, so no other parser ever sees the bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import NoReturn, TypeVar
from xml.parsers import expat

from callplane.errors import MarkupError
from callplane.markup.verbs import Verb, is_terminal

MAX_DEPTH = 32
MAX_ELEMENTS = 1000  # Response included; Plivo and TwiML documents hold a few dozen
T = TypeVar("T")
Compiler = Callable[[ET.Element], T]


class _SafeBuilder:
    def __init__(self) -> None:
        self.tree = ET.TreeBuilder()
        self.depth = 0
        self.elements = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH:
            raise MarkupError(f"elements nested more than {MAX_DEPTH} deep", tag)
        if self.elements > MAX_ELEMENTS:
            raise MarkupError(f"more than {MAX_ELEMENTS} elements", tag)
        self.tree.start(tag, attrs)

    def end(self, tag: str) -> None:
        self.depth -= 1
        self.tree.end(tag)

    def refuse_dtd(self, *args: object) -> NoReturn:
        raise MarkupError("DOCTYPE and ENTITY declarations are not allowed")


def parse_xml(body: bytes | str) -> ET.Element:
    """Parse ``body`` without DTDs or entities; malformed XML raises MarkupError."""
    builder = _SafeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = builder.refuse_dtd
    parser.EntityDeclHandler = builder.refuse_dtd
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.tree.data
    parser.buffer_text = True
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise MarkupError(f"not well-formed XML: {exc}") from exc
    except UnicodeError as exc:
        raise MarkupError(f"undecodable XML: {exc}") from exc
    return builder.tree.close()


def check_root(root: ET.Element) -> None:
    if root.tag != "Response":
        raise MarkupError("the root element must be <Response>", root.tag)
    if root.attrib:
        raise MarkupError("unknown attribute; allowed: none", "Response", next(iter(root.attrib)))


def compile_response(root: ET.Element, table: Mapping[str, Compiler[Verb]]) -> tuple[Verb, ...]:
    """Compile the children of ``<Response>``; stop after Reject or an unscheduled Hangup.

    Elements after the terminal verb are neither compiled nor validated: the
    platforms ignore them, so a document they accept is accepted here too.
    """
    check_root(root)
    verbs: list[Verb] = []
    for child in root:
        verb = dispatch(child, table, root.tag)
        verbs.append(verb)
        if is_terminal(verb):
            break
    return tuple(verbs)


def compile_nested(parent: ET.Element, table: Mapping[str, Compiler[T]]) -> tuple[T, ...]:
    return tuple(dispatch(child, table, parent.tag) for child in parent)


def dispatch(element: ET.Element, table: Mapping[str, Compiler[T]], parent: str) -> T:
    compile_element = table.get(element.tag)
    if compile_element is None:
        refuse_element(element.tag, parent, table)
    return compile_element(element)


def refuse_element(tag: str, parent: str, allowed: Mapping[str, object]) -> NoReturn:
    if tag == "Reject" and parent != "Response":
        raise MarkupError("Reject cannot be nested; it must be a direct child of Response", tag)
    names = ", ".join(allowed)
    if parent == "Response":
        raise MarkupError(f"unknown element; allowed: {names}", tag)
    raise MarkupError(f"not allowed inside <{parent}>; allowed: {names}", tag)


def no_children(element: ET.Element) -> None:
    for child in element:
        if element.tag == "Reject":
            raise MarkupError("Reject cannot nest other elements", "Reject")
        raise MarkupError(f"not allowed inside <{element.tag}>; allowed: none", child.tag)


def required_text(element: ET.Element, what: str) -> str:
    """The element's non-empty text content (a URL, a number, digits ...)."""
    no_children(element)
    value = (element.text or "").strip()
    if not value:
        raise MarkupError(f"{what} required as text content", element.tag)
    return value


def check_ssml(element: ET.Element, allowed: frozenset[str]) -> None:
    for child in element.iter():
        if child is not element and child.tag not in allowed:
            allowed_names = ", ".join(sorted(allowed))
            raise MarkupError(
                f"not allowed inside <{element.tag}>; allowed: {allowed_names}", child.tag
            )


def speech_text(element: ET.Element, allowed_ssml: frozenset[str]) -> tuple[str, str]:
    """``(plain text, inner SSML or "")`` of a Speak/Say element; text must not be empty."""
    check_ssml(element, allowed_ssml)
    plain = " ".join("".join(element.itertext()).split())
    if not plain:
        raise MarkupError("text required as content", element.tag)
    if len(element) == 0:
        return plain, ""
    inner = (element.text or "") + "".join(ET.tostring(c, encoding="unicode") for c in element)
    return plain, inner.strip()
