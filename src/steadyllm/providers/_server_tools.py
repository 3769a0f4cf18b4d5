"""How each wire declares the tools a provider runs itself (``sl.web_search()``,
``sl.web_fetch()``, ``sl.code_execution()``), each shape the one the provider's
API accepted in real recorded requests (tests/fixtures/recorded/server_tools.json).
An option a wire has no field for is refused, never dropped: a search told to
stay on some domains must not search the whole web."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from .._core.errors import InvalidRequestError
from .._core.server_tools import ServerTool


def _refuse(tool: ServerTool, provider: str, model: str, takes: Collection[str], how: str) -> None:
    """Refuse a kind or an option ``provider`` has no equivalent for."""
    if not how:
        raise InvalidRequestError(
            f"{provider} runs no {tool.kind} tool; leave sl.{tool.kind}() out of tools",
            provider=provider,
            model=model,
        )
    extra = sorted(set(tool.options()) - set(takes))
    if extra:
        raise InvalidRequestError(
            f"{provider}'s {how} takes no {', '.join(extra)}; leave "
            f"{'it' if len(extra) == 1 else 'them'} out of sl.{tool.kind}()",
            provider=provider,
            model=model,
        )


def _location(tool: ServerTool) -> dict[str, str] | None:
    if tool.user_location is None:
        return None
    return {"type": "approximate", **tool.user_location.fields()}


def _set(out: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out.update({k: list(v) if isinstance(v, tuple) else v for k, v in fields.items() if v})
    return out


_FILTERS = ("max_uses", "allowed_domains", "blocked_domains")

# Anthropic's versions: the ones its SDK types as generally available.
_ANTHROPIC = {
    "web_search": ("web_search_20250305", (*_FILTERS, "user_location")),
    "web_fetch": ("web_fetch_20250910", (*_FILTERS, "citations", "max_content_tokens")),
    "code_execution": ("code_execution_20250825", ()),
}


def anthropic_tools(tools: Sequence[ServerTool], provider: str, model: str) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        version, takes = _ANTHROPIC[tool.kind]
        _refuse(tool, provider, model, takes, f"{tool.kind} tool")
        if tool.allowed_domains and tool.blocked_domains:
            raise InvalidRequestError(
                f"{provider}'s {tool.kind} tool takes allowed_domains or blocked_domains, "
                "not both; give one",
                provider=provider,
                model=model,
            )
        entry = {"type": version, "name": tool.kind}
        out.append(
            _set(
                entry,
                max_uses=tool.max_uses,
                allowed_domains=tool.allowed_domains,
                blocked_domains=tool.blocked_domains,
                user_location=_location(tool),
                citations={"enabled": True} if tool.citations else None,
                max_content_tokens=tool.max_content_tokens,
            )
        )
    return out


def responses_tools(tools: Sequence[ServerTool], provider: str, model: str) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if tool.kind == "code_execution":
            out.append({"type": "code_interpreter", "container": {"type": "auto"}})
            continue
        how = "web_search tool" if tool.kind == "web_search" else ""
        _refuse(tool, provider, model, ("allowed_domains", "user_location", "context_size"), how)
        filters = {"allowed_domains": list(tool.allowed_domains)} if tool.allowed_domains else None
        out.append(
            _set(
                {"type": "web_search"},
                search_context_size=tool.context_size,
                filters=filters,
                user_location=_location(tool),
            )
        )
    return out


def gemini_tools(tools: Sequence[ServerTool], provider: str, model: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if tool.kind == "web_search":
            # Vertex AI alone can leave domains out of Google Search.
            takes = ("blocked_domains",) if provider == "vertex" else ()
            _refuse(tool, provider, model, takes, "googleSearch tool")
            blocked = tool.blocked_domains
            out.append({"googleSearch": {"excludeDomains": list(blocked)} if blocked else {}})
        else:
            key = "urlContext" if tool.kind == "web_fetch" else "codeExecution"
            _refuse(tool, provider, model, (), f"{key} tool")
            out.append({key: {}})
    return out


def chat_tools(
    tools: Sequence[ServerTool], provider: str, model: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Chat Completions: OpenAI's ``web_search_options`` (its search models), or
    OpenRouter's ``openrouter:web_search`` tool; the tools entries and the options."""
    entries: list[dict[str, Any]] = []
    options: dict[str, Any] | None = None
    for tool in tools:
        if provider == "openrouter" and tool.kind == "web_search":
            takes = (*_FILTERS, "user_location", "context_size")
            _refuse(tool, provider, model, takes, "web_search tool")
            parameters = _set(
                {},
                max_uses=tool.max_uses,
                search_context_size=tool.context_size,
                allowed_domains=tool.allowed_domains,
                excluded_domains=tool.blocked_domains,
                user_location=_location(tool),
            )
            entries.append({"type": "openrouter:web_search", "parameters": parameters})
        elif provider == "openai" and tool.kind == "web_search":
            _refuse(tool, provider, model, ("user_location", "context_size"), "web_search_options")
            location = tool.user_location.fields() if tool.user_location else None
            where = {"type": "approximate", "approximate": location} if location else None
            options = _set({}, search_context_size=tool.context_size, user_location=where)
        else:
            hint = "; the Responses API runs it (openai-responses:MODEL)"
            raise InvalidRequestError(
                f"{provider}'s Chat Completions runs no {tool.kind} tool"
                + (hint if provider == "openai" else ""),
                provider=provider,
                model=model,
            )
    return entries, options


def merge_extra(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` into a request body: each field replaces the body's, but ``tools``,
    which are added after the declared ones (a raw server tool declaration beside
    the functions, as the Responses and Gemini encoders add them)."""
    if "tools" in extra and body.get("tools"):
        body.update({k: v for k, v in extra.items() if k != "tools"})
        body["tools"] = [*body["tools"], *extra["tools"]]
    else:
        body.update(extra)
    return body
