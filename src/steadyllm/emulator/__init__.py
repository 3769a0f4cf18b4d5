"""A provider emulator: a real HTTP server on loopback that speaks the OpenAI,
Azure OpenAI and Anthropic wire protocols, with scripted replies and faults.

    async with Emulator(script=[Behavior(fault="rate_limit"), Behavior(text="hi")]) as emu:
        client = sl.Client.from_env(openai_api_key="sk-test", openai_base_url=emu.openai_base_url)
        ...
        emu.requests   # every request received, for assertions

Each request's behaviour comes from, in order: an ``x-emulator-behavior`` JSON
header, the next queued ``Behavior`` (``script=``, ``push()``, or POST
``/_emulator/script``), or the default: echo the last user message. With
``rpm``/``tpm`` it enforces rate limits as a provider does, answering 429 with
``retry-after-ms`` and ``x-ratelimit-*`` / ``anthropic-ratelimit-*`` headers.
Run one from the shell with ``steadyllm emulate --port 8400``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config.settings import Settings
from ._app import build_app
from ._behavior import FAULTS, Behavior, BehaviorError
from ._limits import RateLimits
from ._state import TOKEN_PREFIX, EmulatorState, RecordedRequest
from ._vendors import VENDORS

if TYPE_CHECKING:
    from ssl import SSLContext

    from aiohttp import web

__all__ = ["FAULTS", "Behavior", "BehaviorError", "Emulator", "RecordedRequest"]


class Emulator:
    def __init__(
        self,
        *,
        script: Iterable[Behavior] = (),
        rpm: int | None = None,
        tpm: int | None = None,
        api_keys: Iterable[str] | None = None,
        ssl: SSLContext | None = None,
        now: Callable[[], float] | None = None,
        cassette: str | Path | None = None,
        realtime: bool = False,
    ) -> None:
        #: Serve HTTPS with this server context (a test CA's certificate, say).
        self.ssl = ssl
        limits = RateLimits(rpm, tpm) if rpm or tpm else None
        self.state = EmulatorState(list(script), limits, set(api_keys) if api_keys else None)
        if now is not None:  # the clock issued tokens expire by (a fake one in tests)
            self.state.now = now
        #: A recording to answer from instead of emulating (``steadyllm emulate --cassette``).
        self.cassette = None
        if cassette is not None:
            from ._cassette import CassetteReplay

            self.cassette = CassetteReplay(cassette, realtime=realtime)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Listen on ``host:port`` (port 0 picks a free one; see ``.port``)."""
        import asyncio
        import importlib

        # aiohttp takes ~150 ms to import: in a worker thread, not on the event loop.
        try:
            web: Any = await asyncio.to_thread(importlib.import_module, "aiohttp.web")
        except ImportError:
            from .._core.errors import ConfigError

            raise ConfigError(
                "the emulator needs aiohttp, which is an extra: pip install 'steadyllm[emulator]'"
            ) from None

        self._runner = web.AppRunner(
            build_app(self.state, self.cassette), handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True, ssl_context=self.ssl)
        await site.start()
        self.host = host
        # The bound socket tells the real port when port=0.
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            import asyncio

            # aiohttp closes every idle keep-alive connection in one loop step; after a
            # load test that is a hundred at once. Close them a few at a time first.
            server: Any = self._runner.server
            for number, handler in enumerate(list(getattr(server, "connections", ()))):
                handler.close()
                if number % 20 == 19:
                    await asyncio.sleep(0)
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start(self.host, self.port)

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl is not None else 'http'}://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For OPENAI_BASE_URL and every OpenAI-compatible preset."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def azure_endpoint(self) -> str:
        return self.url

    def settings(self, *, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings that send every provider to this emulator, with placeholder keys
        (``overrides`` win; config files are not read, and the environment only when
        given as ``env``: the proxy variables, say)."""
        base = self.openai_base_url
        values: dict[str, Any] = {
            "openai_api_key": "sk-emulator-openai",
            "openai_base_url": base,
            "anthropic_api_key": "sk-ant-emulator",
            "anthropic_base_url": self.anthropic_base_url,
            "azure_openai_api_key": "emulator-azure-key",
            "azure_openai_endpoint": self.azure_endpoint,
            "openrouter_api_key": "sk-or-emulator",
            "openrouter_base_url": base,
            "vllm_base_url": base,
            "vllm_api_key": "emulator-vllm-key",
            "ollama_base_url": base,
            "llamacpp_base_url": base,
            "lmstudio_base_url": base,
            "compatible_base_url": base,
            "compatible_api_key": "emulator-compatible-key",
            "gemini_api_key": "emulator-gemini-key",
            "gemini_base_url": self.url,
            "vertex_project": "emulator-project",
            "vertex_access_token": "emulator-vertex-token",
            "vertex_base_url": self.url,
        }
        vendors: dict[str, Any] = {}
        for name in VENDORS:  # each preset at its own route, with its refusals
            values[f"{name}_api_key"] = f"emulator-{name}-key"
            vendors[name] = {"base_url": self.vendor_base_url(name)}
        for name, table in dict(overrides.pop("providers", None) or {}).items():
            vendors[name] = {**vendors.get(name, {}), **table} if isinstance(table, dict) else table
        return Settings.load(
            env=env or {},
            dotenv=False,
            config_file=False,
            providers=vendors,
            **{**values, **overrides},
        )

    def vendor_base_url(self, vendor: str) -> str:
        """The base URL of the emulator playing ``vendor`` (groq, mistral, ...): the
        OpenAI API with the fields that vendor refuses refused its way."""
        if vendor not in VENDORS:
            from .._core.errors import ConfigError

            known = ", ".join(VENDORS)
            raise ConfigError(f"the emulator plays no vendor {vendor!r}; it plays {known}")
        return f"{self.url}/vendors/{vendor}/v1"

    # ------------------------------------------------------------ scripting

    def issue_token(self, ttl: float) -> tuple[str, float]:
        """A bearer token the emulator accepts for ``ttl`` seconds of its clock, and its
        expiry (epoch seconds): what an Entra ID or OAuth token service would hand out."""
        import secrets

        token = f"{TOKEN_PREFIX}{secrets.token_hex(12)}"
        expires = self.state.now() + ttl
        self.state.tokens[token] = expires
        return token, expires

    def push(self, *behaviors: Behavior) -> None:
        """Queue behaviours for the next requests (each serves ``times`` requests)."""
        self.state.push(list(behaviors))

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def rate_limited(self) -> int:
        """How many requests the emulator's own rate limits turned away with 429."""
        return self.state.limits.rejected if self.state.limits is not None else 0

    def reset(self) -> None:
        self.state.clear()
