"""The ``ai.llm_call`` pipeline step: a config, a template, a run, a record.

Templates substitute ``{{name}}`` and ``{name}`` (names are identifiers, dots
allowed: ``{{summary.text}}``); any other brace is literal text, so JSON in a
prompt needs no escaping, and ``\\{`` / ``\\}`` write a literal brace where a
name would otherwise be read. A name that is not supplied is an error naming
it. There is no templating engine: no logic, no filters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .._core.context import Context
from .._core.errors import ConfigError, LLMError
from .._core.types import system, user
from .._metering.observe import timestamp
from .recorder import Recorder, StepRecord, as_recorder

if TYPE_CHECKING:
    from .._client.client import Client

_TOKEN = re.compile(r"\\([{}])|\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|\{([A-Za-z_][\w.]*)\}")


class TemplateError(ConfigError):
    """A template names a variable that was not supplied."""


def template_names(template: str) -> list[str]:
    """The variable names ``template`` refers to (escaped braces are not names)."""
    return [m.group(2) or m.group(3) for m in _TOKEN.finditer(template) if not m.group(1)]


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{{name}}`` / ``{name}``; ``\\{`` and ``\\}`` are literal braces."""

    def value(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        name = match.group(2) or match.group(3)
        found: Any = variables
        for part in name.split("."):
            if isinstance(found, Mapping) and part in found:
                found = found[part]
            else:
                known = ", ".join(sorted(variables)) or "none"
                raise TemplateError(
                    f"template variable {name!r} is not supplied (supplied: {known}); pass it in "
                    "vars or with --var NAME=VALUE, or write \\{ to keep a literal brace"
                )
        return found if isinstance(found, str) else json.dumps(found, default=str)

    return _TOKEN.sub(value, template)


@dataclass(frozen=True)
class LLMCallConfig:
    """The config of one ``ai.llm_call`` step."""

    model: str
    provider: str | None = None
    prompt: str | None = None
    template: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None
    timeout_ms: int | None = None
    max_retries: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    json_schema: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.template is None):
            raise ConfigError("an ai.llm_call step needs exactly one of prompt or template")
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError("an ai.llm_call step needs a model")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "step") -> LLMCallConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                f"known fields: {', '.join(sorted(known))}"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @property
    def model_ref(self) -> str:
        return (
            f"{self.provider}:{self.model}"
            if self.provider and ":" not in self.model
            else self.model
        )


@dataclass
class StepResult:
    record: StepRecord
    value: Any = None  # the parsed JSON when the step has a json_schema

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"

    @property
    def text(self) -> str:
        return self.record.text or ""


_default_client: Client | None = None


def default_client() -> Client:
    """The client of steps run without ``client=``: built once from the environment
    (``Client()``), closed when the interpreter exits."""
    global _default_client
    if _default_client is None:
        import atexit

        from .._client.client import Client

        _default_client = Client()
        atexit.register(_close_default)
    return _default_client


def _close_default() -> None:
    client = _default_client
    if client is not None:
        with contextlib.suppress(Exception):  # exiting: nothing left to report to
            asyncio.run(client.aclose())


async def run_llm_call(
    flow_id: str,
    step_id: str,
    config: LLMCallConfig | Mapping[str, Any],
    recorder: Recorder | Any,
    *,
    client: Client | None = None,
    run_id: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> StepResult:
    """Run one step through the full client pipeline and record its start and end.
    Failures return ``status="error"`` with a reason; cancellation is recorded as
    ``cancelled`` and re-raised. The record is written in every case.

    ``recorder``: steadyllm's recorders, or any object with ``record_step_start`` and
    ``record_step_end`` (plain or async; see ``StepHooks`` for the payloads).
    Without ``client``, one default client from the environment serves every step."""
    recorder = as_recorder(recorder)
    if client is None:
        client = default_client()
    cfg = config if isinstance(config, LLMCallConfig) else LLMCallConfig.from_dict(config, step_id)
    record = StepRecord(flow_id, run_id or uuid.uuid4().hex[:12], step_id, model=cfg.model_ref)
    await recorder.record(record)
    result = StepResult(record)
    try:
        await _call(client, cfg, record, result, flow_id, step_id, variables)
    except (LLMError, ValueError) as exc:  # ConfigError and TemplateError are LLMErrors
        _failed(record, exc)
    except asyncio.CancelledError:
        record.status, record.reason = "cancelled", "the step was cancelled"
        await _end(recorder, record)
        raise
    except BaseException as exc:  # anything else: recorded as an error, then re-raised
        _failed(record, exc)
        await _end(recorder, record)
        raise
    await _end(recorder, record)
    return result


async def _call(
    client: Client,
    cfg: LLMCallConfig,
    record: StepRecord,
    result: StepResult,
    flow_id: str,
    step_id: str,
    variables: Mapping[str, Any] | None,
) -> None:
    """The step's call, its answer and its spend written into ``record``."""
    text = (
        render(cfg.template, {**dict(cfg.vars), **dict(variables or {})})
        if cfg.template is not None
        else str(cfg.prompt)
    )
    messages = ([system(cfg.system)] if cfg.system else []) + [user(text)]
    options: dict[str, Any] = {
        k: v
        for k, v in (
            ("timeout_ms", cfg.timeout_ms),
            ("max_retries", cfg.max_retries),
            ("temperature", cfg.temperature),
            ("top_p", cfg.top_p),
            ("max_tokens", cfg.max_tokens),
        )
        if v is not None
    }
    options["context"] = Context(run_id=record.run_id, operation=f"{flow_id}/{step_id}")
    if cfg.json_schema is not None:
        result.value, response = await client.chat_json_response(
            cfg.model_ref, messages, schema=dict(cfg.json_schema), **options
        )
    else:
        response = await client.chat(cfg.model_ref, messages, **options)
    usage = response.usage
    record.status, record.text = "ok", response.text
    record.prompt_tokens, record.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    # The step cost what every attempt cost (a retried timeout is money too).
    record.total_tokens = usage.total_tokens
    record.cost_usd = (
        response.total_cost_usd if response.total_cost_usd is not None else usage.cost_usd
    )
    record.latency_ms, record.attempts = response.latency_ms, response.attempts


def _failed(record: StepRecord, exc: BaseException) -> None:
    record.status = "error"
    record.reason = str(exc) if isinstance(exc, LLMError) else f"{type(exc).__name__}: {exc}"
    partial = getattr(exc, "partial", None)
    if partial is not None:
        record.text = partial.text
    if isinstance(exc, LLMError):
        record.cost_usd = exc.cost_usd
    record.attempts = getattr(exc, "attempt", None) or record.attempts


async def _end(recorder: Recorder, record: StepRecord) -> None:
    """Write the step's end; shielded, so a cancelled step still leaves its row."""
    record.ended_at = timestamp()
    await asyncio.shield(recorder.record(record))
