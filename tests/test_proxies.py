"""Proxies end to end: real tinyproxy and microsocks on loopback, the emulator as
the origin (over TLS with a throw-away CA for the tunnel tests), and the errors
a user behind a proxy sees when something is wrong."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Emulator

from .netservers import Microsocks, Silent, Tinyproxy, TLSFront, free_port, server_tls

FAST = sl.RetryPolicy(max_retries=0)


@pytest.fixture
async def tls_origin(ca: Any) -> AsyncIterator[Emulator]:
    async with Emulator(ssl=await server_tls(ca)) as emu:
        yield emu


@pytest.fixture
async def origin() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Callable[..., Tinyproxy]]:
    started: list[Tinyproxy] = []

    def start(auth: tuple[str, str] | None = None) -> Tinyproxy:
        proxy = Tinyproxy(tmp_path, auth)
        proxy.start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


async def ask(client: sl.Client, model: str = "openai:gpt-4o-mini") -> sl.Response:
    try:
        return await client.chat(model, [sl.user("through the proxy")])
    finally:
        await client.aclose()


def client(emu: Emulator, env: dict[str, str], **settings: Any) -> sl.Client:
    return sl.Client(emu.settings(env=env, **settings), retry=FAST)


async def test_https_through_a_connect_tunnel_reuses_it(
    tinyproxy: Callable[..., Tinyproxy], tls_origin: Emulator, bundle: str
) -> None:
    proxy = await asyncio.to_thread(tinyproxy)
    c = client(tls_origin, {"HTTPS_PROXY": proxy.url}, ca_bundle=bundle)
    try:
        for _ in range(3):
            reply = await c.chat("openai:gpt-4o-mini", [sl.user("tunnel me")])
            assert reply.text
        async with c.stream("openai:gpt-4o-mini", [sl.user("and stream")]) as s:
            streamed = "".join([e.text async for e in s if isinstance(e, sl.TextDelta)])
        assert streamed == s.response.text and streamed
    finally:
        await c.aclose()
    # One tunnel for all four calls, to the host as written in the base URL.
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1"]
    assert len(tls_origin.requests) == 4


async def test_http_origin_is_forwarded_in_absolute_form(
    tinyproxy: Callable[..., Tinyproxy], origin: Emulator
) -> None:
    proxy = await asyncio.to_thread(tinyproxy)
    reply = await ask(client(origin, {"http_proxy": proxy.url}))
    assert reply.text
    url = f"http://127.0.0.1:{origin.port}/v1/chat/completions"
    assert proxy.requests() == [f"POST {url} HTTP/1.1"]
    assert "tinyproxy" in origin.requests[0].headers.get("via", "").lower()


@pytest.mark.parametrize(
    ("no_proxy", "host", "proxied"),
    [
        ("localhost", "localhost", False),
        ("localhost", "127.0.0.1", True),
        (".localhost", "localhost", False),
        ("127.0.0.1", "127.0.0.1", False),
        ("127.0.0.0/8", "127.0.0.1", False),
        ("10.0.0.0/8", "127.0.0.1", True),
        ("127.0.0.1:{port}", "127.0.0.1", False),
        ("127.0.0.1:1", "127.0.0.1", True),
        ("*", "127.0.0.1", False),
        ("calhost", "localhost", True),  # a suffix matches at a label boundary only
    ],
)
async def test_no_proxy_in_each_of_its_forms(
    tinyproxy: Callable[..., Tinyproxy], origin: Emulator, no_proxy: str, host: str, proxied: bool
) -> None:
    proxy = await asyncio.to_thread(tinyproxy)
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy.format(port=origin.port)}
    base = f"http://{host}:{origin.port}/v1"
    assert (await ask(client(origin, env, openai_base_url=base))).text
    assert bool(proxy.requests()) is proxied


async def test_proxy_credentials_are_sent_and_never_shown(
    tinyproxy: Callable[..., Tinyproxy],
    tls_origin: Emulator,
    origin: Emulator,
    bundle: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = await asyncio.to_thread(tinyproxy, ("proxyuser", "s3cret-proxy-pw"))
    good = proxy.url.replace("http://", "http://proxyuser:s3cret-proxy-pw@")
    assert (await ask(client(tls_origin, {"HTTPS_PROXY": good}, ca_bundle=bundle))).text
    assert (await ask(client(origin, {"HTTP_PROXY": good}))).text

    caplog.set_level(logging.DEBUG)
    bad = proxy.url.replace("http://", "http://proxyuser:wrong-password-77@")
    with pytest.raises(sl.ProxyError) as wrong:  # tinyproxy answers wrong ones with 401
        await ask(client(tls_origin, {"HTTPS_PROXY": bad}, ca_bundle=bundle))
    with pytest.raises(sl.ProxyError) as tunnel:
        await ask(client(tls_origin, {"HTTPS_PROXY": proxy.url}, ca_bundle=bundle))
    with pytest.raises(sl.ProxyError) as forwarded:
        await ask(client(origin, {"HTTP_PROXY": proxy.url}))
    for caught, status, variable in (
        (wrong, 401, "HTTPS_PROXY"),
        (tunnel, 407, "HTTPS_PROXY"),
        (forwarded, 407, "HTTP_PROXY"),
    ):
        error = caught.value
        assert error.status == status and not error.retryable
        assert "proxy authentication failed" in error.message and variable in error.message
        shown = f"{error} {error!r} {caplog.text}"
        assert "wrong-password-77" not in shown and "s3cret-proxy-pw" not in shown
    assert len(tls_origin.requests) == 1 and len(origin.requests) == 1


async def test_an_unreachable_proxy_is_named(origin: Emulator) -> None:
    port = free_port()
    with pytest.raises(sl.LLMConnectionError) as caught:
        await ask(client(origin, {"ALL_PROXY": f"http://127.0.0.1:{port}"}))
    message = caught.value.message
    assert f"the proxy http://127.0.0.1:{port} (from ALL_PROXY)" in message
    assert "cannot connect" in message and not isinstance(caught.value, sl.ProxyError)


async def test_a_proxy_that_never_answers_connect_times_out(tls_origin: Emulator) -> None:
    async with Silent() as silent:
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{silent.port}"}
        with pytest.raises(sl.LLMTimeoutError) as caught:
            await ask(client(tls_origin, env, connect_timeout_ms=300))
        assert "waiting for the proxy" in caught.value.message
        # The call's own deadline holds as well, with a longer connect timeout.
        with pytest.raises(sl.LLMTimeoutError):
            await ask(client(tls_origin, env, timeout_ms=300))
        assert silent.accepted == 2


async def test_an_https_proxy_carries_tls_inside_tls(
    tinyproxy: Callable[..., Tinyproxy], ca: Any, tls_origin: Emulator, bundle: str
) -> None:
    proxy = await asyncio.to_thread(tinyproxy)
    async with TLSFront(await server_tls(ca), proxy.port) as front:
        env = {"HTTPS_PROXY": f"https://127.0.0.1:{front.port}"}
        assert (await ask(client(tls_origin, env, ca_bundle=bundle))).text
    assert proxy.requests() == [f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1"]


async def test_a_setting_or_provider_table_overrides_the_environment(
    tinyproxy: Callable[..., Tinyproxy], origin: Emulator
) -> None:
    used, unused = await asyncio.to_thread(tinyproxy), await asyncio.to_thread(tinyproxy)
    env = {"HTTP_PROXY": unused.url}
    assert (await ask(client(origin, env, proxy=used.url))).text
    table = {"openai": {"proxy": used.url}}
    assert (await ask(client(origin, env, providers=table))).text
    assert len(used.requests()) == 2 and unused.requests() == []
    # `direct` for one provider; LLM_TRUST_ENV=false for all.
    assert (await ask(client(origin, env, providers={"openai": {"proxy": "direct"}}))).text
    assert (await ask(client(origin, env, trust_env=False))).text
    assert unused.requests() == []


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
async def test_socks5_with_and_without_credentials(
    scheme: str, tls_origin: Emulator, origin: Emulator, bundle: str
) -> None:
    pytest.importorskip("python_socks")
    plain, locked = Microsocks(), Microsocks(("sockuser", "sock-pass-123"))
    await asyncio.to_thread(plain.start)
    await asyncio.to_thread(locked.start)
    try:
        env = {"ALL_PROXY": f"{scheme}://127.0.0.1:{plain.port}"}
        assert (await ask(client(tls_origin, env, ca_bundle=bundle))).text
        assert (await ask(client(origin, env))).text
        good = {"ALL_PROXY": f"{scheme}://sockuser:sock-pass-123@127.0.0.1:{locked.port}"}
        assert (await ask(client(origin, good))).text
        bad = {"ALL_PROXY": f"{scheme}://sockuser:not-it-456@127.0.0.1:{locked.port}"}
        with pytest.raises(sl.ProxyError) as caught:
            await ask(client(origin, bad))
        assert not caught.value.retryable and "not-it-456" not in str(caught.value)
    finally:
        await asyncio.to_thread(plain.stop)
        await asyncio.to_thread(locked.stop)
