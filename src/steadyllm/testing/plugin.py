"""The pytest plugin (entry point ``steadyllm``): fixtures ``llm_emulator`` and
``llm_cassette``, the option ``--llm-record-mode`` and the marker
``llm_cassette``. Loaded in every pytest session where steadyllm is installed,
so it imports nothing of its own until a fixture is used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .._cassette.recorder import Cassette
    from ._thread import EmulatorThread

from .._cassette import MODES


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("steadyllm")
    group.addoption(
        "--llm-record-mode",
        choices=MODES,
        default=None,
        help="llm_cassette mode: none (replay only, the default), once (record missing "
        "cassettes), new_episodes (record unmatched requests), all (record everything anew)",
    )
    parser.addini("llm_record_mode", "default llm_cassette mode", default="none")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm_cassette(path=None, mode=None, match_on=None, allow_repeats=False, "
        "realtime=False): options of the test's llm_cassette",
    )


@pytest.fixture
def llm_emulator() -> Iterator[EmulatorThread]:
    """The provider emulator on a free loopback port, in a thread of its own:
    ``llm_emulator.client()`` talks to it, ``llm_emulator.requests`` is what it got,
    ``llm_emulator.push(Behavior(...))`` scripts faults."""
    from ._thread import EmulatorThread

    with EmulatorThread() as emulator:
        yield emulator


def cassette_path(request: pytest.FixtureRequest) -> Path:
    """``cassettes/<test module>/<test name>.yaml`` beside the test file."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return (
        Path(request.node.path).parent
        / "cassettes"
        / Path(request.node.path).stem
        / (name + ".yaml")
    )


@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """Every request of the test recorded into (or replayed from) a cassette beside
    it; the mode comes from the marker, ``--llm-record-mode``, or the
    ``llm_record_mode`` ini option, in that order (default ``none``)."""
    from .._cassette.recorder import Cassette

    marker = request.node.get_closest_marker("llm_cassette")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    path = options.pop("path", None)
    mode = (
        options.pop("mode", None)
        or request.config.getoption("--llm-record-mode")
        or request.config.getini("llm_record_mode")
    )
    if options.get("match_on") is None:
        options.pop("match_on", None)
    where = Path(path) if path is not None else cassette_path(request)
    with Cassette(where, mode=mode, **options) as cassette:
        yield cassette
