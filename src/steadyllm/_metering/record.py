"""One call's record: the JSON object the request log writes, statistics sample
and OpenTelemetry read. A data table: one field per line, schema ``SCHEMA_VERSION``
(docs/observability.md lists the fields)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .._core import fastjson as _json
from .._core.errors import LLMError
from .._core.types import Response
from .observe import sha256, timestamp

if TYPE_CHECKING:
    from .._client.plan import CallPlan
    from .meter import Ledger

#: 2: the time field is ``timestamp`` (it was ``ts`` in schema 1).
SCHEMA_VERSION = 2


def call_record(
    plan: CallPlan,
    first: CallPlan,
    ledger: Ledger,
    response: Response | None,
    error: LLMError | None,
    stream: bool,
    abandoned: str | None,
    latency_ms: float,
    saved_usd: float | None,
) -> dict[str, Any]:
    """The record of a call that ran as ``plan`` (``first``: the model requested)."""
    ctx = plan.context
    request = plan.request
    ok = error is None and not abandoned
    cached = response is not None and response.cached
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "timestamp": timestamp(),
        "run_id": ctx.run_id if ctx else None,
        "project_id": ctx.project_id if ctx else None,
        "agent": ctx.agent if ctx else None,
        "operation": ctx.operation if ctx else None,
        "provider": request.provider,
        "model": request.model,
        "requested_model": first.request.model_id,
        "prompt_version": (ctx.metadata.get("prompt_version") if ctx else None),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "stream": stream,
        "prompt_sha256": hashlib.sha256(
            _json.dumps([m.to_dict() for m in request.messages], sort_keys=True, default=str)
        ).hexdigest(),
        "response_sha256": sha256(response.text) if response is not None else None,
        "latency_ms": round(latency_ms, 3),
        "ttft_ms": response.ttft_ms if response is not None else None,
        "prompt_tokens": ledger.usage.prompt_tokens,
        "completion_tokens": ledger.usage.completion_tokens,
        "total_tokens": ledger.usage.total_tokens,
        "cached_tokens": ledger.usage.cached_tokens,
        "reasoning_tokens": ledger.usage.reasoning_tokens,
        "cost_usd": ledger.cost_usd,
        "cost_estimated": ledger.estimated,
        "estimated_cost_usd": ledger.estimated_cost,
        "success": ok,
        "finish_reason": response.finish_reason if response is not None else None,
        "error_kind": error.kind if error is not None else abandoned,
        "error_message": error.message if error is not None else None,
        "attempts": (response.attempts if response is not None else error.attempt if error else 1),
        "fallback_reason": response.fallback.reason
        if response is not None and response.fallback
        else None,
        "cache_hit": bool(response.cached) if response is not None else False,
        "validation_status": (response.validation or {}).get("status") if response else None,
        "validation_attempt": (response.validation or {}).get("attempt") if response else None,
        "request_id": response.request_id
        if response is not None
        else (error.request_id if error else None),
        "metadata": dict(ctx.metadata) if ctx else {},
    }
    if cached:
        record["cost_usd"] = 0.0
        record["saved_usd"] = saved_usd
    return record
