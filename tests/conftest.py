from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import steadyllm as sl

_CONFIG_VARS = {spec.env for spec in sl.SETTINGS} | {"STEADYLLM_CONFIG"}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts in an empty directory with no steadyllm variables set,
    so a developer's own .env or keys never leak into the results."""
    for name in _CONFIG_VARS & set(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def clock() -> sl.FakeClock:
    return sl.FakeClock()


def make_client(
    *steps: sl.FakeReply | sl.FakeFault | sl.FakeHang,
    clock: sl.Clock | None = None,
    **settings: object,
) -> tuple[sl.Client, sl.FakeProvider]:
    """A Client on virtual time whose fake provider follows ``steps``."""
    fake = sl.FakeProvider(script=steps)
    client = sl.Client(
        sl.Settings.load(env={}, dotenv=False, **settings),
        providers={"fake": fake},
        clock=clock or sl.FakeClock(),
    )
    return client, fake
