"""What happened: the JSONL request log, console lines, and latency statistics.

One record per call (not per attempt; its fields: ``record.py``); every value
that came from outside (error messages, ids, labels, metadata, prompts and
replies) passes through the redactor, and lines reach an unbuffered
append-only file from a background writer (``logwriter``) in whole-line
writes, so several processes may share the file and a hung disk never holds a
call. The console handler is installed only when asked for
(``LOG_TO_CONSOLE``); otherwise the library logger has no handlers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from .._core import fastjson as _json
from .._core.errors import ConfigError
from .._core.redact import RedactingFilter, get_logger, redact, scrub
from .logwriter import AppendWriter, ErrorSink

call_logger = get_logger("steadyllm.calls")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


#: Record fields whose values come from outside steadyllm (users, providers, models);
#: every other field is a number, a flag, a hash or a word of our own vocabulary.
_OUTSIDE = (
    "run_id",
    "project_id",
    "agent",
    "operation",
    "prompt_version",
    "finish_reason",
    "error_message",
    "request_id",
    "metadata",
    "prompt",
    "response",
)


class RequestLog:
    """Appends one JSON object per line to ``path``; opened (and checked) at start-up.

    Lines are written by a background thread (``AppendWriter``), so a slow or hung
    disk never holds a call; ``close`` waits (at most ``close_timeout_s``) for the
    queued lines. What cannot be written goes to ``on_error(exc, lines)``.
    """

    def __init__(
        self,
        path: str | Path,
        on_error: ErrorSink | None = None,
        *,
        close_timeout_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered, append-only: each batch of whole lines is one write(2) with
            # O_APPEND, so lines from several processes never interleave.
            file: BinaryIO = self.path.open("ab", buffering=0)
        except OSError as exc:
            raise ConfigError(
                f"LOG_FILE_PATH={str(self.path)!r} is not writable ({exc.strerror or exc}); "
                "choose another path or set LOG_TO_FILE=false"
            ) from None
        self.close_timeout_s = close_timeout_s
        self._writer = AppendWriter(file, on_error or _ignore, exit_timeout_s=close_timeout_s)

    def write(self, record: dict[str, Any]) -> None:
        for key in _OUTSIDE:
            value = record.get(key)
            if value:  # None, "" and {} have nothing to hide
                record[key] = scrub(value)
        self._writer.put(_json.dumps(record, default=lambda v: redact(str(v))) + b"\n")

    def flush(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until every queued line is written."""
        return self._writer.flush(timeout_s)

    def close(self) -> None:
        self._writer.close(self.close_timeout_s)


def _ignore(exc: Exception, lines: int) -> None:
    pass


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a request log. A record cut short by a failed write (a full
    disk, a size limit) is skipped with a warning; any other malformed line is an
    error naming its number."""
    records = []
    cut = 0
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if line.startswith('{"schema":'):  # one of ours, cut short
                    cut += 1
                    continue
                raise ConfigError(
                    f"{path}:{number} is not a JSON line; is this a steadyllm log?"
                ) from None
            if isinstance(record, dict):
                records.append(record)
    if cut:
        get_logger("steadyllm").warning(
            "%s: skipped %d record(s) cut short by a failed write", path, cut
        )
    return records


# ------------------------------------------------------------------ console

_COLOURS = {"ok": "\033[32m", "fail": "\033[31m", "dim": "\033[2m", "reset": "\033[0m"}


class ConsoleFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL message``, with the call outcome coloured on a terminal."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        message = record.getMessage()
        if self.colour:
            outcome = getattr(record, "outcome", None)
            if outcome in ("ok", "fail"):
                message = f"{_COLOURS[outcome]}{message}{_COLOURS['reset']}"
            when = f"{_COLOURS['dim']}{when}{_COLOURS['reset']}"
        return f"{when} {record.levelname:<7} {message}"


_console_lock = threading.Lock()
_console: logging.Handler | None = None


def configure_logging(level: str, console: bool, stream: TextIO | None = None) -> None:
    """Set steadyllm's level, and add one console handler if asked (idempotent)."""
    global _console
    root = logging.getLogger("steadyllm")
    root.setLevel(level)
    if not console:
        return
    with _console_lock:
        if _console is None:
            out = stream or sys.stderr
            handler = logging.StreamHandler(out)
            handler.setFormatter(
                ConsoleFormatter(colour=bool(getattr(out, "isatty", lambda: False)()))
            )
            handler.addFilter(RedactingFilter())
            root.addHandler(handler)
            _console = handler


def remove_console() -> None:
    global _console
    with _console_lock:
        if _console is not None:
            logging.getLogger("steadyllm").removeHandler(_console)
            _console = None


# ------------------------------------------------------------------ statistics


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class _Model:
    requests: int = 0
    successes: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    fallbacks: int = 0
    cache_hits: int = 0
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    ttft: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def view(self) -> dict[str, Any]:
        lat, first = list(self.latency), list(self.ttft)
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": dict(sorted(self.failures.items())),
            "retries": self.retries,
            "fallbacks": self.fallbacks,
            "cache_hits": self.cache_hits,
            "latency_ms": {f"p{q}": percentile(lat, q) for q in (50, 95, 99)},
            "ttft_ms": {f"p{q}": percentile(first, q) for q in (50, 95, 99)},
        }


class Stats:
    """Outcome counters and latency percentiles (last 10,000 calls) per model and overall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, _Model] = {}
        self._all = _Model()

    def add(self, record: dict[str, Any]) -> None:
        key = f"{record.get('provider')}:{record.get('model')}"
        with self._lock:
            for m in (self._all, self._models.setdefault(key, _Model())):
                m.requests += 1
                if record.get("success"):
                    m.successes += 1
                else:
                    kind = str(record.get("error_kind") or "unknown")
                    m.failures[kind] = m.failures.get(kind, 0) + 1
                m.retries += max(0, int(record.get("attempts") or 1) - 1)
                m.fallbacks += 1 if record.get("fallback_reason") else 0
                m.cache_hits += 1 if record.get("cache_hit") else 0
                if record.get("latency_ms") is not None:
                    m.latency.append(float(record["latency_ms"]))
                if record.get("ttft_ms") is not None:
                    m.ttft.append(float(record["ttft_ms"]))

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "overall": self._all.view(),
                "by_model": {k: m.view() for k, m in sorted(self._models.items())},
            }


_second: tuple[int, str] = (-1, "")


def timestamp() -> str:
    """UTC now as ``2026-11-22T07:40:01.123Z`` (the second's text is reused within it)."""
    global _second
    now = time.time()
    whole = int(now)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"
