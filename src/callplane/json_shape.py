"""How deep arrays and objects nest in JSON text, and how many there are, read
from the text itself before it is decoded.

Shared by the REST API (request bodies) and VoXML (answer documents): decoding
deep JSON recurses (RecursionError) and so does code that walks or re-encodes
it. Text with few brackets (nearly every request) is passed by counting them;
otherwise the brackets outside strings are summed up in C (replace, split,
translate, numpy): a few milliseconds per MiB, where walking decoded JSON in
Python (or a regex for strings) takes tens.
"""

from __future__ import annotations

import numpy as np

_NOT_BRACKETS = bytes(set(range(256)) - set(b"{}[]"))
_STEPS = bytes.maketrans(b"{[}]", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as int8


def shape_problem(
    text: bytes | str, max_depth: int, max_containers: int | None = None
) -> str | None:
    """What is wrong with the nesting of JSON ``text`` (the outermost array or
    object is depth 1; brackets inside strings do not count), or None."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    bound = max_depth if max_containers is None else min(max_depth, max_containers)
    if raw.count(b"{") + raw.count(b"[") <= bound:
        return None
    steps = np.frombuffer(_outside_strings(raw).translate(_STEPS, _NOT_BRACKETS), np.int8)
    if steps.size and int(steps.cumsum(dtype=np.int64).max()) > max_depth:
        return f"arrays and objects nested more than {max_depth} deep"
    if max_containers is not None and int(np.count_nonzero(steps == 1)) > max_containers:
        return f"more than {max_containers} arrays and objects"
    return None


def _outside_strings(raw: bytes) -> bytes:
    """``raw`` without its strings. Escapes go first, ``\\\\`` before ``\\"`` as JSON reads
    them left to right; every quote left then opens or closes a string."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2])
