"""Credentials that expire or rotate, against the emulator: Entra ID-style tokens
that expire in seconds of a fake clock, single-flight refresh, a key from a
secret manager that rotates, and the OpenAI organization and project headers."""

from __future__ import annotations

import asyncio
import importlib.machinery
import logging
import pickle
import sys
import threading
import types
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Emulator

NO_RETRY = sl.RetryPolicy(max_retries=0)


class Clock:
    """Wall time that moves only when the test says so."""

    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emulator(clock: Clock) -> AsyncIterator[Emulator]:
    async with Emulator(now=clock, api_keys=["sk-static-key-1"]) as emu:
        yield emu


def azure(emu: Emulator, token: Any) -> sl.Client:
    settings = emu.settings(azure_openai_api_key=None, azure_openai_ad_token=token)
    return sl.Client(settings, retry=NO_RETRY)


async def ask(client: sl.Client, model: str = "azure:gpt-4o-mini", times: int = 1) -> None:
    for _ in range(times):
        assert (await client.chat(model, [sl.user("hello")])).text


def bearers(emu: Emulator) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in emu.requests]


async def test_a_token_is_refreshed_ahead_of_its_expiry(emulator: Emulator, clock: Clock) -> None:
    fetched: list[str] = []

    async def fetch() -> sl.Token:
        token, expires = emulator.issue_token(10)
        fetched.append(token)
        return sl.Token(token, expires)

    client = azure(emulator, sl.TokenProvider(fetch, now=clock))
    try:
        await ask(client, times=2)
        clock.at += 4  # 6 s left of 10: still good
        await ask(client)
        clock.at += 2  # 4 s left, under half its life: refreshed before the request
        await ask(client)
    finally:
        await client.aclose()
    assert len(fetched) == 2
    assert bearers(emulator) == [fetched[0]] * 3 + [fetched[1]]


async def test_the_emulator_refuses_an_expired_token(emulator: Emulator, clock: Clock) -> None:
    token, _ = emulator.issue_token(5)
    client = azure(emulator, token)
    try:
        await ask(client)
        clock.at += 5
        with pytest.raises(sl.AuthenticationError, match="have expired"):
            await ask(client)
    finally:
        await client.aclose()


async def test_a_refused_rotating_credential_is_fetched_again_once(
    emulator: Emulator, clock: Clock
) -> None:
    """The secret manager rotated the key: the cached one gets a 401, a fresh one works."""
    issued: list[str] = []

    def fetch() -> sl.Token:
        token, _ = emulator.issue_token(1 if not issued else 3600)
        issued.append(token)
        return sl.Token(token, clock() + 3600)  # it claims an hour; the server says 1 s

    client = azure(emulator, sl.TokenProvider(fetch, now=clock))
    try:
        await ask(client)
        clock.at += 2
        await ask(client)
    finally:
        await client.aclose()
    assert bearers(emulator) == [issued[0], issued[0], issued[1]]  # the 2nd was a 401


async def test_many_waiting_calls_share_one_refresh(emulator: Emulator, clock: Clock) -> None:
    gate, started = asyncio.Event(), asyncio.Event()
    calls = 0

    async def fetch() -> sl.Token:
        nonlocal calls
        calls += 1
        started.set()
        await gate.wait()
        return sl.Token(*emulator.issue_token(60))

    client = azure(emulator, sl.TokenProvider(fetch, now=clock))
    try:
        tasks = [asyncio.create_task(ask(client)) for _ in range(20)]
        await started.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # every call is waiting on the one refresh now
        gate.set()
        await asyncio.gather(*tasks)
    finally:
        await client.aclose()
    assert calls == 1 and len(set(bearers(emulator))) == 1 and len(emulator.requests) == 20


async def test_a_failed_refresh(
    emulator: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes: list[Exception | None] = [None, RuntimeError("vault is down: token=abc")]

    def fetch() -> sl.Token:
        problem = outcomes.pop(0) if outcomes else RuntimeError("still down")
        if problem is not None:
            raise problem
        return sl.Token(*emulator.issue_token(100))

    client = azure(emulator, sl.TokenProvider(fetch, now=clock))
    try:
        await ask(client)
        clock.at += 60  # refresh due, and it fails: the old token still has 40 s
        with caplog.at_level(logging.WARNING, logger="steadyllm"):
            await ask(client)
        assert "refreshing the credential failed (RuntimeError)" in caplog.text
        clock.at += 50  # expired, and the refresh fails again
        with pytest.raises(sl.AuthenticationError, match="fetching the credential failed"):
            await ask(client)
    finally:
        await client.aclose()
    assert len(emulator.requests) == 2


async def test_a_sync_key_callable_runs_off_the_loop_and_stays_masked(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    threads: list[str] = []

    def from_vault() -> str:
        threads.append(threading.current_thread().name)
        return "sk-static-key-1"

    settings = emulator.settings(openai_api_key=from_vault)
    assert "sk-static-key-1" not in repr(settings)
    client = sl.Client(settings, retry=NO_RETRY)
    try:
        with caplog.at_level(logging.DEBUG):
            await ask(client, "openai:gpt-4o-mini", times=3)
    finally:
        await client.aclose()
    assert len(threads) == 1 and threads[0] != threading.current_thread().name
    assert "sk-static-key-1" not in caplog.text
    assert repr(settings.openai_api_key) == "TokenProvider(OPENAI_API_KEY credential)"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(settings.openai_api_key)


async def test_a_callable_returning_the_wrong_thing(emulator: Emulator) -> None:
    client = sl.Client(emulator.settings(openai_api_key=lambda: 42), retry=NO_RETRY)
    try:
        with pytest.raises(sl.AuthenticationError, match=r"expected a str, a steadyllm\.Token"):
            await ask(client, "openai:gpt-4o-mini")
    finally:
        await client.aclose()


async def test_organization_and_project_headers(emulator: Emulator) -> None:
    settings = emulator.settings(
        openai_api_key="sk-static-key-1", openai_org_id="org-123", openai_project_id="proj_9"
    )
    client = sl.Client(settings, retry=NO_RETRY)
    try:
        await ask(client, "openai:gpt-4o-mini")
    finally:
        await client.aclose()
    headers = emulator.requests[0].headers
    assert (headers["openai-organization"], headers["openai-project"]) == ("org-123", "proj_9")


@dataclass
class AccessToken:  # azure.core.credentials.AccessToken's shape
    token: str
    expires_on: int


def fake_azure_identity(emu: Emulator, scopes: list[str]) -> dict[str, types.ModuleType]:
    class DefaultAzureCredential:
        def get_token(self, scope: str) -> AccessToken:
            scopes.append(scope)
            token, expires = emu.issue_token(3600)
            return AccessToken(token, int(expires))

    azure = types.ModuleType("azure")
    identity = types.ModuleType("azure.identity")
    identity.__spec__ = importlib.machinery.ModuleSpec("azure.identity", None)
    identity.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    azure.identity = identity  # type: ignore[attr-defined]
    return {"azure": azure, "azure.identity": identity}


async def test_entra_through_default_azure_credential(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = emulator.settings(azure_openai_api_key=None, azure_openai_auth="entra")
    for name in ("azure", "azure.identity"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # not installed here
    with pytest.raises(sl.ConfigError, match=r"pip install 'steadyllm\[azure\]'"):
        await ask(sl.Client(settings, retry=NO_RETRY))
    scopes: list[str] = []
    for name, module in fake_azure_identity(emulator, scopes).items():
        monkeypatch.setitem(sys.modules, name, module)
    client = sl.Client(settings, retry=NO_RETRY)
    try:
        await ask(client, times=2)
    finally:
        await client.aclose()
    assert scopes == ["https://cognitiveservices.azure.com/.default"]
    assert bearers(emulator)[0].startswith("emu-token-")
