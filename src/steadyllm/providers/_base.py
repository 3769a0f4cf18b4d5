"""What a provider is, and the registry that maps ``provider:`` prefixes to one.

A provider turns a provider-neutral ``Request`` into a ``Response`` (``complete``)
or into a sequence of ``ProviderEvent``s (``stream``), and raises ``LLMError``
subclasses for every failure. The client adds everything else (deadline,
retries, context, assembly of streamed events), so a provider stays small.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core.errors import ConfigError

if TYPE_CHECKING:
    from .._config.settings import Settings
    from .._core.clock import Clock
    from .._core.types import ProviderEvent, Request, Response


class Provider(abc.ABC):
    name: str = ""
    #: The output cap the provider sends when a call sets none (Anthropic requires one);
    #: the rate limiter reserves it.
    default_max_tokens: int | None = None

    @abc.abstractmethod
    async def complete(self, request: Request) -> Response:
        """One non-streaming call."""

    @abc.abstractmethod
    def stream(self, request: Request) -> AsyncIterator[ProviderEvent]:
        """A streaming call: events end with ``Done``, or the iterator raises."""

    async def count_tokens(self, request: Request) -> int | None:
        """The input tokens of ``request`` by the provider's own count; None: it has no
        count endpoint (the client then estimates)."""
        return None

    def embed_batch(self, model: str) -> int | None:
        """The most inputs one embeddings request to ``model`` may carry; None: this
        provider has no embeddings."""
        return None

    def attach(self, clock: Clock) -> None:  # noqa: B027 - optional hook, empty by default
        """Called once by the client that will use this provider, with its clock."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release connections; the provider is not used afterwards."""


ProviderFactory = Callable[["Settings"], Provider]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    factory: ProviderFactory
    #: Settings that must be set before this provider can be used, with the variable to name.
    required: tuple[tuple[str, str], ...] = ()
    description: str = ""


_REGISTRY: dict[str, ProviderSpec] = {}


def register_provider(
    name: str,
    factory: ProviderFactory,
    *,
    required: tuple[tuple[str, str], ...] = (),
    description: str = "",
    replace: bool = False,
) -> None:
    """Make ``name:`` model strings use providers built by ``factory(settings)``.

    ``required`` lists ``(setting, ENV_VARIABLE)`` pairs that must be set; a
    missing one raises ``ConfigError`` naming the variable before any request.
    """
    if not name or ":" in name or name != name.strip():
        raise ConfigError(f"provider name {name!r} must be non-empty with no ':' or spaces")
    if name in _REGISTRY and not replace:
        raise ConfigError(f"provider {name!r} is already registered; pass replace=True")
    _REGISTRY[name] = ProviderSpec(name, factory, required, description)


def provider_spec(name: str) -> ProviderSpec:
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown provider {name!r}; known providers: {', '.join(known_providers())}. "
            "Register others with steadyllm.register_provider()."
        )
    return spec


def known_providers() -> list[str]:
    return sorted(_REGISTRY)


def build_provider(name: str, settings: Settings) -> Provider:
    spec = provider_spec(name)
    for setting, variable in spec.required:
        if getattr(settings, setting, None) is None:
            raise ConfigError(
                f"provider {name!r} needs {variable}; set it in the environment, in .env, "
                f"or as {setting} in steadyllm.toml (Client() and Client.from_env() read all "
                f"three; Client(settings) uses only the settings given: pass {setting}= to "
                "Settings.load)"
            )
    return spec.factory(settings)
