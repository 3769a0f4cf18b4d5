"""Tools the provider runs itself (web search, web fetch, code execution), offered
beside function tools in ``tools=[...]``. Each is declared once here, provider
neutral; each wire spells it its own way (``providers/_server_tools.py``) or
refuses an option it has no equivalent for. What they did comes back as
``ServerToolPart``s, never as tool calls for the caller to run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .errors import InvalidRequestError

ServerToolKind: TypeAlias = Literal["web_search", "web_fetch", "code_execution"]
ContextSize: TypeAlias = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class UserLocation:
    """Where the user roughly is, to localise search results: a city, a region, an
    ISO 3166-1 alpha-2 ``country`` code, an IANA ``timezone``."""

    city: str | None = None
    region: str | None = None
    country: str | None = None
    timezone: str | None = None

    def fields(self) -> dict[str, str]:
        """The fields that are set, by name."""
        pairs = (
            ("city", self.city),
            ("region", self.region),
            ("country", self.country),
            ("timezone", self.timezone),
        )
        return {name: value for name, value in pairs if value is not None}


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool the provider runs during the call. Make one with ``sl.web_search()``,
    ``sl.web_fetch()`` or ``sl.code_execution()``; an option a provider has no
    equivalent for is an ``InvalidRequestError`` before anything is sent."""

    kind: ServerToolKind
    #: Most uses in one call (Anthropic, OpenRouter).
    max_uses: int | None = None
    allowed_domains: tuple[str, ...] | None = None
    blocked_domains: tuple[str, ...] | None = None
    user_location: UserLocation | None = None
    #: How much search context the model gets (OpenAI's ``search_context_size``).
    context_size: ContextSize | None = None
    #: web_fetch: cite the fetched pages (Anthropic).
    citations: bool = False
    #: web_fetch: the most tokens of page text taken into the context (Anthropic).
    max_content_tokens: int | None = None

    def options(self) -> dict[str, Any]:
        """The options that are set, by name (what a wire must take or refuse)."""
        out: dict[str, Any] = {}
        for name in (
            "max_uses",
            "allowed_domains",
            "blocked_domains",
            "user_location",
            "context_size",
            "max_content_tokens",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.citations:
            out["citations"] = True
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the response cache keys on it)."""
        out = {"kind": self.kind, **self.options()}
        if self.user_location is not None:
            out["user_location"] = self.user_location.fields()
        for name in ("allowed_domains", "blocked_domains"):
            if name in out:
                out[name] = list(out[name])
        return out


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidRequestError(f"{name}={value!r}: give a whole number of at least 1")
    return value


def _domains(name: str, value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(d, str) and d for d in value):
        raise InvalidRequestError(
            f'{name}={value!r}: give a list of domain names, e.g. ["example.com"]'
        )
    return tuple(value)


def _filters(
    allowed: Sequence[str] | None, blocked: Sequence[str] | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    return _domains("allowed_domains", allowed), _domains("blocked_domains", blocked)


def web_search(
    *,
    max_uses: int | None = None,
    allowed_domains: Sequence[str] | None = None,
    blocked_domains: Sequence[str] | None = None,
    user_location: UserLocation | None = None,
    context_size: ContextSize | None = None,
) -> ServerTool:
    """The provider's own web search: Anthropic ``web_search``, the OpenAI Responses
    API's ``web_search`` (Chat Completions: ``web_search_options``, search models
    only), Gemini ``googleSearch``, OpenRouter ``openrouter:web_search``."""
    if context_size not in (None, "low", "medium", "high"):
        raise InvalidRequestError(f"context_size={context_size!r}: use 'low', 'medium' or 'high'")
    if user_location is not None and not isinstance(user_location, UserLocation):
        raise InvalidRequestError(
            "user_location: give sl.UserLocation(city=..., region=..., country=..., timezone=...)"
        )
    allowed, blocked = _filters(allowed_domains, blocked_domains)
    return ServerTool(
        "web_search",
        max_uses=_positive("max_uses", max_uses),
        allowed_domains=allowed,
        blocked_domains=blocked,
        user_location=user_location,
        context_size=context_size,
    )


def web_fetch(
    *,
    max_uses: int | None = None,
    allowed_domains: Sequence[str] | None = None,
    blocked_domains: Sequence[str] | None = None,
    citations: bool = False,
    max_content_tokens: int | None = None,
) -> ServerTool:
    """The provider fetches pages the model asks for: Anthropic ``web_fetch``,
    Gemini ``urlContext``."""
    allowed, blocked = _filters(allowed_domains, blocked_domains)
    return ServerTool(
        "web_fetch",
        max_uses=_positive("max_uses", max_uses),
        allowed_domains=allowed,
        blocked_domains=blocked,
        citations=bool(citations),
        max_content_tokens=_positive("max_content_tokens", max_content_tokens),
    )


def code_execution() -> ServerTool:
    """The provider runs code the model writes in a sandbox: Anthropic
    ``code_execution``, the OpenAI Responses API's ``code_interpreter``, Gemini
    ``codeExecution``."""
    return ServerTool("code_execution")
