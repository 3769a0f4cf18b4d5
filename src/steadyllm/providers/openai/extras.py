"""What a Chat Completions reply carries besides text and tool calls: per-token
log probabilities, the text of ``reasoning_details``, citations. Pure."""

from __future__ import annotations

from typing import Any

from ..._core.errors import InvalidResponseError
from ..._core.parts import citation_from
from ..._core.types import Citation, TokenLogprob


def logprobs_of(value: Any, *, provider: str, model: str) -> tuple[TokenLogprob, ...] | None:
    """A choice's ``logprobs.content`` (and ``refusal``) as TokenLogprobs; None when
    the call did not ask for them."""
    if value is None:
        return None
    try:
        entries = [*(value.get("content") or ()), *(value.get("refusal") or ())]
        return tuple(
            TokenLogprob(
                str(e["token"]),
                float(e["logprob"]),
                tuple((str(t["token"]), float(t["logprob"])) for t in e.get("top_logprobs") or ()),
            )
            for e in entries
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise InvalidResponseError(
            f"{provider} sent logprobs of an unexpected shape: {value!r:.80}",
            provider=provider,
            model=model,
        ) from None


def details_text(details: Any) -> str | None:
    """The readable text of OpenRouter-style ``reasoning_details`` (``reasoning.text``
    and ``reasoning.summary`` entries; encrypted ones have none), for servers that
    send only those (Snowflake Cortex)."""
    if not isinstance(details, list):
        return None
    texts = [
        d.get("text") if d.get("type") == "reasoning.text" else d.get("summary")
        for d in details
        if isinstance(d, dict)
    ]
    return "".join(t for t in texts if isinstance(t, str)) or None


def reasoning_item(message: Any, provider: str) -> dict[str, Any] | None:
    """A message's ``reasoning_details`` (OpenRouter: readable, summarized or encrypted
    reasoning) as a ``ThinkingPart.item``, named with the provider that sent it: the
    reasoning goes back to that provider with the turn, to no other."""
    details = message.get("reasoning_details")
    if not isinstance(details, list) or not details:
        return None
    return {"reasoning_details": details, "provider": provider}


def merge_details(merged: dict[int, dict[str, Any]], details: Any) -> None:
    """Stream pieces of ``reasoning_details`` into whole entries, by ``index``: their
    text, summary and data are joined, their other fields kept (a signature that comes
    last included)."""
    if not isinstance(details, list):
        return
    for position, detail in enumerate(details):
        if not isinstance(detail, dict):
            continue
        index = detail.get("index", position)
        entry = merged.setdefault(index if isinstance(index, int) else position, {})
        for key, value in detail.items():
            if key in ("text", "summary", "data") and isinstance(value, str):
                entry[key] = str(entry.get(key) or "") + value
            elif value is not None and entry.get(key) in (None, ""):
                entry[key] = value


def citations_of(annotations: Any, *, provider: str, model: str) -> tuple[Citation, ...]:
    """The citations among a message's ``annotations`` (OpenAI's url_citation, as
    OpenRouter sends too); annotations of other kinds are left in ``raw``."""
    if annotations is None or annotations == []:  # most replies: nothing to read
        return ()
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise InvalidResponseError(
            f"{provider} sent annotations that are not a list of objects: {annotations!r:.80}",
            provider=provider,
            model=model,
        )
    return tuple(citation_from(a) for a in annotations if a.get("type") == "url_citation")
