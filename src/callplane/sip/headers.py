"""SIP header fields: an ordered, case-insensitive multi-map (RFC 3261 §7.3).

Names are normalised on the way in: compact forms (§7.3.3) become full names
and well-known names get their canonical spelling, so ``i``, ``call-id`` and
``CALL-ID`` are all stored as ``Call-ID``. Unknown names keep their spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "f": "From",
    "t": "To",
    "v": "Via",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "b": "Referred-By",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
}

_CANONICAL_NAMES = [
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "Min-SE",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Replaces",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "Diversion",
    "History-Info",
]

CANONICAL: dict[str, str] = {name.lower(): name for name in _CANONICAL_NAMES}
CANONICAL.update(COMPACT_FORMS)

LIST_HEADERS = frozenset(
    name.lower()
    for name in [
        "Via",
        "Contact",
        "Route",
        "Record-Route",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow-Events",
        "Content-Encoding",
        "Content-Language",
        "Call-Info",
        "Alert-Info",
        "Error-Info",
        "In-Reply-To",
        "Warning",
        "Path",
        "Service-Route",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Reason",
        "Diversion",
        "History-Info",
    ]
)


def canonical_name(name: str) -> str:
    """The stored spelling of a header name (compact forms expanded)."""
    return CANONICAL.get(name.lower(), name)


def split_commas(value: str) -> list[str]:
    """Split a comma-separated header value, respecting quotes and <...>."""
    if "," not in value:
        return [value.strip()]
    parts: list[str] = []
    start = 0
    quoted = angled = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angled = True
        elif ch == ">":
            angled = False
        elif ch == "," and not angled:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return parts


class Headers:
    """Ordered, case-insensitive multi-map of header fields.

    Iteration yields ``(name, value)`` pairs in wire order, one per header line.
    ``get_all`` splits comma-separated values of list headers (Via, Contact...).
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def _from_canonical(cls, items: list[tuple[str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = None
        return headers

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._items:
                key = name.lower()
                if key in index:
                    index[key].append(value)
                else:
                    index[key] = [value]
            self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value (the first list element for list headers)."""
        key = canonical_name(name).lower()
        values = self._lookup().get(key)
        if not values:
            return default
        if key in LIST_HEADERS:
            return split_commas(values[0])[0]
        return values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value, comma lists split for list headers."""
        key = canonical_name(name).lower()
        values = self._lookup().get(key, [])
        if key not in LIST_HEADERS:
            return list(values)
        return [part for value in values for part in split_commas(value)]

    def lines(self, name: str) -> list[str]:
        """The raw value of each line carrying ``name``, unsplit."""
        return list(self._lookup().get(canonical_name(name).lower(), []))

    def count(self, name: str) -> int:
        """How many lines carry ``name``."""
        return len(self._lookup().get(canonical_name(name).lower(), []))

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical_name(name), value))
        self._index = None

    def insert_first(self, name: str, value: str) -> None:
        """Put a line before all others (a new top Via)."""
        self._items.insert(0, (canonical_name(name), value))
        self._index = None

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one, where the first one was."""
        name = canonical_name(name)
        key = name.lower()
        items: list[tuple[str, str]] = []
        placed = False
        for item in self._items:
            if item[0].lower() != key:
                items.append(item)
            elif not placed:
                items.append((name, value))
                placed = True
        if not placed:
            items.append((name, value))
        self._items = items
        self._index = None

    def replace_first(self, name: str, value: str) -> None:
        """Replace the first list element of ``name`` (e.g. the top Via)."""
        key = canonical_name(name).lower()
        for i, (item_name, item_value) in enumerate(self._items):
            if item_name.lower() == key:
                rest = split_commas(item_value)[1:]
                self._items[i] = (item_name, ", ".join([value, *rest]))
                self._index = None
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._items = [item for item in self._items if item[0].lower() != key]
        self._index = None

    def copy(self) -> Headers:
        return Headers._from_canonical(list(self._items))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name).lower() in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
