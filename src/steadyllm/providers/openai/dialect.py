"""What one OpenAI-style server accepts: the ``Dialect`` of OpenAI, Azure and
each compatible server (which field caps output, which options it silently
ignores, which fields it names differently). The compatible servers' presets
are in ``presets``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one OpenAI-style server differs from api.openai.com."""

    provider: str = "openai"
    #: Field that caps output: OpenAI wants max_completion_tokens; most servers max_tokens.
    max_tokens_field: str = "max_completion_tokens"
    #: Request options this server silently ignores: sending one is an error, not a no-op.
    ignored: frozenset[str] = frozenset()
    #: Whether the body carries "model" (Azure's classic URLs put the deployment in the path).
    send_model: bool = True
    #: Variable to name in authentication errors.
    key_variable: str = "OPENAI_API_KEY"
    #: Whether PDF file inputs are accepted (api.openai.com; not assumed elsewhere).
    documents: bool = True
    #: Whether streams ask for usage (``stream_options``); turned off for a server
    #: that refuses the field (see ``without_stream_options``).
    stream_usage: bool = True
    #: Request fields this server spells differently (Mistral: seed -> random_seed).
    renamed: tuple[tuple[str, str], ...] = ()
    #: Options that only some models ignore, by model-name prefix (deepseek-reasoner
    #: accepts temperature and does nothing with it).
    model_ignored: tuple[tuple[str, frozenset[str]], ...] = ()
    #: Whether a JSON schema strict mode can take is sent with ``strict: true`` when the
    #: call leaves ``strict`` unset (OpenAI and Azure; a compatible server may refuse it).
    auto_strict: bool = True

    def ignored_for(self, model: str) -> frozenset[str]:
        """Every option a call to ``model`` would have silently ignored."""
        extra = [names for prefix, names in self.model_ignored if model.startswith(prefix)]
        return self.ignored.union(*extra) if extra else self.ignored


def without_stream_options(dialect: Dialect, status: int, body: bytes) -> Dialect | None:
    """The dialect to retry a refused stream with: a server that rejects
    ``stream_options`` (a 400/422 naming it) gets streams without it."""
    if dialect.stream_usage and status in (400, 422) and b"stream_options" in body:
        return replace(dialect, stream_usage=False)
    return None
