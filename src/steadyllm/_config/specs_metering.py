"""Metering: budgets, cost alerts, prices, the request log, console lines,
statistics, tracing and the run recorder.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import _DAY_MS, setting
from .specs_resilience import _Resilience


@dataclass(frozen=True, slots=True)
class _Metering(_Resilience):
    max_cost_per_request_usd: float | None = setting(
        "MAX_COST_PER_REQUEST_USD",
        None,
        "Refuse a call whose estimated cost exceeds this (USD).",
        minimum=0,
        maximum=1e09,
    )
    budget_usd: float | None = setting(
        "LLM_BUDGET_USD",
        None,
        "Hard limit on total spend by this client (USD); calls beyond it are refused.",
        minimum=0,
        maximum=1e12,
    )
    budget_per_run_usd: float | None = setting(
        "LLM_BUDGET_PER_RUN_USD",
        None,
        "Hard limit on spend per Context run_id (USD).",
        minimum=0,
        maximum=1e12,
    )
    budget_per_agent_usd: float | None = setting(
        "LLM_BUDGET_PER_AGENT_USD",
        None,
        "Hard limit on spend per Context agent (USD).",
        minimum=0,
        maximum=1e12,
    )
    alert_cost_threshold_usd: float | None = setting(
        "ALERT_COST_THRESHOLD_USD",
        None,
        "Warn once (and call the alert hook) when total spend crosses this (USD).",
        minimum=0,
        maximum=1e12,
    )
    price_cache_dir: str = setting(
        "STEADYLLM_PRICE_CACHE_DIR",
        "",
        "Directory where prices resolved from genai-prices are remembered, so new "
        "processes need not import the catalog; empty: $XDG_CACHE_HOME/steadyllm (or "
        "~/.cache/steadyllm); `off`: do not remember.",
    )
    log_level: str = setting(
        "LOG_LEVEL",
        "INFO",
        "Level of steadyllm's logger.",
        kind="level",
    )
    log_to_file: bool = setting(
        "LOG_TO_FILE",
        False,
        "Write one JSON line per call to `log_file_path`.",
    )
    log_file_path: str = setting(
        "LOG_FILE_PATH",
        "./logs/llm.jsonl",
        "Where the JSONL request log goes.",
    )
    log_close_timeout_ms: int = setting(
        "LOG_CLOSE_TIMEOUT_MS",
        5000,
        "How long closing the client (or the process's exit) waits for queued log lines "
        "to reach the disk; lines still queued then are counted as sink failures. Calls "
        "never wait for the log.",
        minimum=0,
        maximum=_DAY_MS,
    )
    log_to_console: bool = setting(
        "LOG_TO_CONSOLE",
        False,
        "Print a human-readable line per call on stderr.",
    )
    log_prompts: bool = setting(
        "LOG_PROMPTS",
        False,
        "Also write prompt and response text to the request log (hashes are always written).",
    )
    enable_metrics: bool = setting(
        "ENABLE_METRICS",
        False,
        "Keep latency and outcome statistics per model.",
    )
    enable_tracing: bool = setting(
        "ENABLE_TRACING",
        True,
        "Emit OpenTelemetry spans and metrics when the otel extra is installed.",
    )
    trace_content: bool = setting(
        "LLM_TRACE_CONTENT",
        False,
        "Record input and output messages on spans (redacted), as the GenAI conventions describe.",
    )
    recorder_path: str = setting(
        "STEADYLLM_DB",
        "./steadyllm.db",
        "SQLite file where `steadyllm run` records flow runs (`steadyllm runs` reads it).",
    )
