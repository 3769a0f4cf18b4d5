"""Testing code that calls LLMs, three ways (docs/testing.md):

- the fake provider (``sl.FakeProvider``): no HTTP at all, scripted replies;
- the emulator (``EmulatorThread``, the ``llm_emulator`` fixture): the real
  wire protocols on loopback, with faults;
- cassettes (``cassette()``, the ``llm_cassette`` fixture): real exchanges
  recorded once at the transport, secrets scrubbed, replayed offline.

Installed as a pytest plugin (the ``steadyllm`` entry point), which adds the
two fixtures and ``--llm-record-mode``; everything works without pytest too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._cassette.recorder import Cassette, CassetteError
    from ._thread import EmulatorThread

__all__ = ["MODES", "Cassette", "CassetteError", "EmulatorThread", "cassette"]

from .._cassette import MODES


def cassette(path: str | Path, **options: Any) -> Cassette:
    """``with cassette("tests/cassettes/hello.yaml", mode="once"):`` records (or
    replays) every request made meanwhile; see ``Cassette`` for the options."""
    from .._cassette.recorder import Cassette

    return Cassette(path, **options)


def __getattr__(name: str) -> Any:
    if name in ("Cassette", "CassetteError"):
        from .._cassette import recorder

        return getattr(recorder, name)
    if name == "EmulatorThread":
        from ._thread import EmulatorThread

        return EmulatorThread
    raise AttributeError(f"module 'steadyllm.testing' has no attribute {name!r}")
