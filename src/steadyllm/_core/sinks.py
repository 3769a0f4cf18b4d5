"""Sinks and hooks that fail are reported and counted, never allowed to change a call.

A request log on a full disk, an OpenTelemetry exporter that raises, a user's
``on_circuit_change`` or ``on_cost_alert`` that raises: the call they observe
has already been decided, so its outcome stands. As ``logging.Handler.handleError``
does, each failure is reported, here once per cause (sink and exception type) as a
warning, and every one is counted, visible in ``client.sink_failures()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .redact import get_logger

logger = get_logger("steadyllm")


class SinkFailures:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def report(self, sink: str, exc: Exception, count: int = 1) -> None:
        """``count`` failures of ``sink`` to ``exc`` (a batch of log lines lost at once)."""
        cause = f"{sink}: {type(exc).__name__}"
        with self._lock:
            first = cause not in self._counts
            self._counts[cause] = self._counts.get(cause, 0) + count
        if first:
            logger.warning(
                "%s failed and was skipped (%s: %s); calls go on unchanged, and later "
                "failures of this kind are only counted (client.sink_failures())",
                sink,
                type(exc).__name__,
                exc,
            )

    def call(self, sink: str, function: Callable[..., Any], *args: Any) -> None:
        """``function(*args)``; an exception is reported and counted, not raised."""
        try:
            function(*args)
        except Exception as exc:
            self.report(sink, exc)

    def snapshot(self) -> dict[str, int]:
        """Failures so far by cause (``"request log: OSError"``: count)."""
        with self._lock:
            return dict(self._counts)
