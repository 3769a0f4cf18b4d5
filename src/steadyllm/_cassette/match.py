"""Which recorded exchange answers a request, and, when none does, which one
came closest and how it differs.

A request matches on ``method``, ``url`` and ``body`` by default (the body
parsed and compared as data, so key order and whitespace do not matter);
``match_on`` picks others from ``MATCHERS`` (``path`` and ``query`` when the
host differs, as between a real provider and the emulator), or a callable
``(request, recorded) -> bool`` replaces them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .format import Exchange

Matcher = Callable[[Exchange, Exchange], bool]


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def _query(url: str) -> list[tuple[str, str]]:
    return sorted(parse_qsl(urlsplit(url).query, keep_blank_values=True))


MATCHERS: dict[str, Matcher] = {
    "method": lambda a, b: a.method.upper() == b.method.upper(),
    "url": lambda a, b: a.url == b.url,
    "host": lambda a, b: urlsplit(a.url).netloc == urlsplit(b.url).netloc,
    "path": lambda a, b: _path(a.url) == _path(b.url),
    "query": lambda a, b: _query(a.url) == _query(b.url),
    "body": lambda a, b: a.body == b.body,
}
DEFAULT_MATCH = ("method", "url", "body")


def matcher(match_on: Sequence[str] | Matcher) -> Matcher:
    if callable(match_on):
        return match_on
    unknown = [name for name in match_on if name not in MATCHERS]
    if unknown:
        from .._core.errors import ConfigError

        raise ConfigError(
            f"unknown cassette matcher {unknown[0]!r}; use any of {', '.join(MATCHERS)} "
            "or a callable (request, recorded) -> bool"
        )
    chosen = [MATCHERS[name] for name in match_on]
    return lambda a, b: all(check(a, b) for check in chosen)


def find(
    request: Exchange, recorded: list[Exchange], match: Matcher, repeats: bool
) -> Exchange | None:
    """The first recorded exchange that matches and has not played yet (or, with
    ``repeats``, the last one that matches when all of them have)."""
    last = None
    for exchange in recorded:
        if match(request, exchange):
            if not exchange.played:
                return exchange
            last = exchange
    return last if repeats else None


def explain(request: Exchange, recorded: list[Exchange], match: Matcher, where: str) -> str:
    """Why nothing matched: the request, and the closest recording with its differences."""
    shown = f"{request.method} {request.url}"
    if not recorded:
        return f"no recorded exchange for {shown}: {where} holds none"
    if any(match(request, e) for e in recorded):
        return (
            f"every recorded exchange for {shown} in {where} has been played already; "
            "record the extra request (mode new_episodes) or allow repeats"
        )
    scored = sorted(enumerate(recorded, 1), key=lambda pair: len(differences(request, pair[1])))
    number, closest = scored[0]
    found = "; ".join(differences(request, closest)[:4])
    return (
        f"no recorded exchange in {where} matches {shown}; the closest is exchange "
        f"{number} ({closest.method} {closest.url}), which differs in {found}"
    )


def differences(request: Exchange, recorded: Exchange) -> list[str]:
    out = []
    if request.method.upper() != recorded.method.upper():
        out.append(f"method: {request.method} != {recorded.method}")
    if request.url != recorded.url:
        out.append(f"url: {request.url} != recorded {recorded.url}")
    out.extend(_diff(request.body, recorded.body, "body"))
    return out


def _diff(mine: Any, theirs: Any, path: str) -> list[str]:
    """Where two parsed bodies differ, as paths (``body.messages[0].content``)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        out = []
        for key in [*mine, *(k for k in theirs if k not in mine)]:
            if key not in theirs:
                out.append(f"{path}.{key}: not in the recording")
            elif key not in mine:
                out.append(f"{path}.{key}: recorded, not sent")
            else:
                out.extend(_diff(mine[key], theirs[key], f"{path}.{key}"))
        return out
    if isinstance(mine, list) and isinstance(theirs, list):
        out = (
            [f"{path}: {len(mine)} items, recorded {len(theirs)}"]
            if len(mine) != len(theirs)
            else []
        )
        for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            out.extend(_diff(a, b, f"{path}[{index}]"))
        return out
    if mine != theirs:
        return [f"{path}: {_short(mine)} != recorded {_short(theirs)}"]
    return []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
