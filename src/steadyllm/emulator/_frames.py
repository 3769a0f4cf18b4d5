"""Server-sent event frames, as the emulator writes them."""

from __future__ import annotations

import json
from typing import Any


class Quiet(bytes):
    """A frame that carries no content (block start/stop, ping): chunk counts skip it."""


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()
