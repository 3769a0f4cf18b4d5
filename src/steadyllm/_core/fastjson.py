"""JSON on the hot path: orjson where it gives the standard library's answer.

orjson encodes and decodes several times faster than ``json``; on every call
we encode a request body, decode a reply (or one event per stream chunk) and
encode a log line. Where orjson refuses something the standard library
accepts (NaN literals, non-string keys, lone surrogates, types only a
``default`` can encode), we fall back to ``json``. Two known differences
remain, neither of which occurs in provider traffic: orjson writes NaN as
``null`` (``json`` would write the invalid ``NaN``) and reads integers beyond
64 bits as floats. orjson is imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_orjson: Any = None


def _fast() -> Any:
    global _orjson
    if _orjson is None:
        try:
            import orjson

            _orjson = orjson
        except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
            _orjson = False
    return _orjson


def dumps(
    value: Any, *, default: Callable[[Any], Any] | None = None, sort_keys: bool = False
) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII kept), as bytes."""
    fast = _fast()
    if fast:
        try:
            return bytes(
                fast.dumps(value, default=default, option=fast.OPT_SORT_KEYS if sort_keys else 0)
            )
        except TypeError:
            pass
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=default, sort_keys=sort_keys
    ).encode("utf-8", "surrogatepass")


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON; raises ``ValueError`` (``json.JSONDecodeError``) when it is not JSON."""
    fast = _fast()
    if fast:
        try:
            return fast.loads(data)
        except ValueError:
            pass  # NaN, huge integers, odd encodings: let the standard library decide
    return json.loads(data)
