"""The table of every setting: name, variable, type, default, range, meaning.

Parsing, error messages, `steadyllm config` and the README's settings table
all read this one table (see ``_config.py``), so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "str", "secret", "url", "level", "choice"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    env: str
    kind: Kind
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    #: The feature that will act on this setting, while it is parsed but not yet used.
    pending: str = ""
    #: Accepted values of a "choice" setting.
    choices: tuple[str, ...] = ()

    def accepted(self) -> str:
        if self.kind == "bool":
            return "true/false (also 1/0, yes/no, on/off)"
        if self.kind == "level":
            return "/".join(LOG_LEVELS)
        if self.kind in ("int", "float"):
            lo = "" if self.minimum is None else _number(self.minimum)
            hi = "" if self.maximum is None else _number(self.maximum)
            noun = "an integer" if self.kind == "int" else "a number"
            if lo and hi:
                return f"{noun} from {lo} to {hi}"
            return f"{noun} >= {lo}" if lo else noun
        if self.kind == "url":
            return "an http:// or https:// URL with a valid host"
        if self.kind == "choice":
            return " or ".join(self.choices)
        return "text"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


_DAY_MS = 86_400_000
SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "provider",
        "LLM_PROVIDER",
        "str",
        None,
        "Provider for model names given without a `provider:` prefix.",
    ),
    SettingSpec(
        "default_model",
        "LLM_DEFAULT_MODEL",
        "str",
        None,
        "Model used when a call passes `model=None`.",
    ),
    SettingSpec(
        "timeout_ms",
        "LLM_TIMEOUT_MS",
        "int",
        30_000,
        "Total deadline of one call, retries and stream included (ms).",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "max_retries",
        "LLM_MAX_RETRIES",
        "int",
        3,
        "Retries after the first attempt, for retryable errors only.",
        0,
        100,
    ),
    SettingSpec(
        "rate_limit_per_minute",
        "LLM_RATE_LIMIT_PER_MINUTE",
        "int",
        None,
        "Requests per minute per model; calls wait their turn.",
        1,
        10_000_000,
    ),
    SettingSpec(
        "circuit_breaker_failure_threshold",
        "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
        "int",
        5,
        "Consecutive infrastructure failures that open a model's circuit.",
        1,
        10_000,
    ),
    SettingSpec(
        "circuit_breaker_reset_timeout_ms",
        "CIRCUIT_BREAKER_RESET_TIMEOUT_MS",
        "int",
        60_000,
        "How long an open circuit fails fast before a probe (ms).",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "enable_cache",
        "ENABLE_LLM_CACHE",
        "bool",
        False,
        "Cache complete responses of identical non-streaming requests.",
    ),
    SettingSpec(
        "cache_ttl_ms",
        "CACHE_TTL_MS",
        "int",
        3_600_000,
        "How long a cached response stays valid (ms).",
        1,
        365 * _DAY_MS,
    ),
    SettingSpec(
        "max_cost_per_request_usd",
        "MAX_COST_PER_REQUEST_USD",
        "float",
        None,
        "Refuse a call whose estimated cost exceeds this (USD).",
        0,
        1e9,
    ),
    SettingSpec(
        "alert_cost_threshold_usd",
        "ALERT_COST_THRESHOLD_USD",
        "float",
        None,
        "Warn once (and call the alert hook) when total spend crosses this (USD).",
        0,
        1e12,
    ),
    SettingSpec(
        "log_level",
        "LOG_LEVEL",
        "level",
        "INFO",
        "Level of steadyllm's logger.",
    ),
    SettingSpec(
        "log_to_file",
        "LOG_TO_FILE",
        "bool",
        False,
        "Write one JSON line per call to `log_file_path`.",
    ),
    SettingSpec(
        "log_file_path",
        "LOG_FILE_PATH",
        "str",
        "./logs/llm.jsonl",
        "Where the JSONL request log goes.",
    ),
    SettingSpec(
        "log_close_timeout_ms",
        "LOG_CLOSE_TIMEOUT_MS",
        "int",
        5000,
        "How long closing the client (or the process's exit) waits for queued log "
        "lines to reach the disk; lines still queued then are counted as sink "
        "failures. Calls never wait for the log.",
        0,
        _DAY_MS,
    ),
    SettingSpec(
        "log_to_console",
        "LOG_TO_CONSOLE",
        "bool",
        False,
        "Print a human-readable line per call on stderr.",
    ),
    SettingSpec(
        "enable_metrics",
        "ENABLE_METRICS",
        "bool",
        False,
        "Keep latency and outcome statistics per model.",
    ),
    SettingSpec(
        "openai_api_key",
        "OPENAI_API_KEY",
        "secret",
        None,
        "OpenAI API key.",
    ),
    SettingSpec(
        "openai_base_url",
        "OPENAI_BASE_URL",
        "url",
        None,
        "OpenAI API base URL (default https://api.openai.com/v1).",
    ),
    SettingSpec(
        "anthropic_api_key",
        "ANTHROPIC_API_KEY",
        "secret",
        None,
        "Anthropic API key.",
    ),
    SettingSpec(
        "anthropic_base_url",
        "ANTHROPIC_BASE_URL",
        "url",
        None,
        "Anthropic API base URL (default https://api.anthropic.com).",
    ),
    SettingSpec(
        "azure_openai_api_key",
        "AZURE_OPENAI_API_KEY",
        "secret",
        None,
        "Azure OpenAI key (sent as `api-key`).",
    ),
    SettingSpec(
        "azure_openai_endpoint",
        "AZURE_OPENAI_ENDPOINT",
        "url",
        None,
        "Azure resource endpoint, e.g. https://NAME.openai.azure.com.",
    ),
    SettingSpec(
        "azure_openai_api_version",
        "AZURE_OPENAI_API_VERSION",
        "str",
        "2024-10-21",
        "Azure `api-version` for deployment URLs.",
    ),
    SettingSpec(
        "connect_timeout_ms",
        "LLM_CONNECT_TIMEOUT_MS",
        "int",
        10_000,
        "Longest wait to open a connection (ms).",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "first_token_timeout_ms",
        "LLM_FIRST_TOKEN_TIMEOUT_MS",
        "int",
        None,
        "Longest wait for a stream's first content event (ms); unset: the total deadline.",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "stream_idle_timeout_ms",
        "LLM_STREAM_IDLE_TIMEOUT_MS",
        "int",
        30_000,
        "Longest gap between stream events; comments and pings do not count (ms).",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "max_header_bytes",
        "LLM_MAX_HEADER_BYTES",
        "int",
        65_536,
        "Largest response header block accepted (bytes); more is an invalid response.",
        1024,
        1 << 30,
    ),
    SettingSpec(
        "max_body_bytes",
        "LLM_MAX_BODY_BYTES",
        "int",
        256 << 20,
        "Largest response body accepted after decompression (bytes).",
        1024,
        1 << 40,
    ),
    SettingSpec(
        "max_event_bytes",
        "LLM_MAX_EVENT_BYTES",
        "int",
        16 << 20,
        "Largest single server-sent event accepted in a stream (bytes).",
        1024,
        1 << 40,
    ),
    SettingSpec(
        "anthropic_api_version",
        "ANTHROPIC_API_VERSION",
        "str",
        "2023-06-01",
        "`anthropic-version` header: 2023-06-01 (x-api-key) or 2026-10-21 (Bearer, no "
        "sampling parameters).",
    ),
    SettingSpec(
        "azure_openai_ad_token",
        "AZURE_OPENAI_AD_TOKEN",
        "secret",
        None,
        "Microsoft Entra ID token for Azure (sent as Bearer instead of `api-key`).",
    ),
    SettingSpec("openrouter_api_key", "OPENROUTER_API_KEY", "secret", None, "OpenRouter API key."),
    SettingSpec(
        "openrouter_base_url",
        "OPENROUTER_BASE_URL",
        "url",
        "https://openrouter.ai/api/v1",
        "OpenRouter base URL.",
    ),
    SettingSpec(
        "vllm_base_url", "VLLM_BASE_URL", "url", "http://localhost:8000/v1", "vLLM server base URL."
    ),
    SettingSpec(
        "vllm_api_key",
        "VLLM_API_KEY",
        "secret",
        None,
        "Key for a vLLM server started with --api-key.",
    ),
    SettingSpec(
        "ollama_base_url",
        "OLLAMA_BASE_URL",
        "url",
        "http://localhost:11434/v1",
        "Ollama's OpenAI-compatible base URL.",
    ),
    SettingSpec(
        "llamacpp_base_url",
        "LLAMACPP_BASE_URL",
        "url",
        "http://localhost:8080/v1",
        "llama.cpp server base URL.",
    ),
    SettingSpec(
        "lmstudio_base_url",
        "LMSTUDIO_BASE_URL",
        "url",
        "http://localhost:1234/v1",
        "LM Studio server base URL.",
    ),
    SettingSpec(
        "compatible_base_url",
        "COMPATIBLE_BASE_URL",
        "url",
        None,
        "Base URL for `compatible:MODEL`, any other OpenAI-compatible server.",
    ),
    SettingSpec(
        "compatible_api_key",
        "COMPATIBLE_API_KEY",
        "secret",
        None,
        "Key for `compatible:MODEL`, if the server wants one.",
    ),
    SettingSpec(
        "retry_base_delay_ms",
        "LLM_RETRY_BASE_DELAY_MS",
        "int",
        500,
        "First back-off ceiling; doubles per retry (full jitter below it) (ms).",
        0,
        _DAY_MS,
    ),
    SettingSpec(
        "retry_max_delay_ms",
        "LLM_RETRY_MAX_DELAY_MS",
        "int",
        8_000,
        "Largest back-off between retries (ms).",
        0,
        _DAY_MS,
    ),
    SettingSpec(
        "tokens_per_minute",
        "LLM_TOKENS_PER_MINUTE",
        "int",
        None,
        "Tokens per minute per model (prompt estimate plus max_tokens); calls wait.",
        1,
        10_000_000_000,
    ),
    SettingSpec(
        "requests_per_day",
        "LLM_REQUESTS_PER_DAY",
        "int",
        None,
        "Requests per day per model; calls wait.",
        1,
        10_000_000_000,
    ),
    SettingSpec(
        "tokens_per_day",
        "LLM_TOKENS_PER_DAY",
        "int",
        None,
        "Tokens per day per model; calls wait.",
        1,
        10_000_000_000_000,
    ),
    SettingSpec(
        "rate_limit_scope",
        "LLM_RATE_LIMIT_SCOPE",
        "choice",
        "model",
        "Share limits per `provider:model` (model) or per provider / API key (provider).",
        choices=("model", "provider"),
    ),
    SettingSpec(
        "rate_limit_refund_unused",
        "LLM_RATE_LIMIT_REFUND_UNUSED",
        "bool",
        False,
        "Return reserved but unused tokens to the limiter (for providers that count "
        "real output, not max_tokens).",
    ),
    SettingSpec(
        "circuit_breaker_failure_rate",
        "CIRCUIT_BREAKER_FAILURE_RATE",
        "float",
        None,
        "Also open when this share (0-1] of calls in the window failed.",
        0.01,
        1.0,
    ),
    SettingSpec(
        "circuit_breaker_window_ms",
        "CIRCUIT_BREAKER_WINDOW_MS",
        "int",
        60_000,
        "Rolling window for the failure rate (ms).",
        1,
        _DAY_MS,
    ),
    SettingSpec(
        "circuit_breaker_min_calls",
        "CIRCUIT_BREAKER_MIN_CALLS",
        "int",
        10,
        "Calls in the window before the failure rate is judged.",
        1,
        1_000_000,
    ),
    SettingSpec(
        "circuit_breaker_half_open_calls",
        "CIRCUIT_BREAKER_HALF_OPEN_CALLS",
        "int",
        1,
        "Probe calls let through when an open circuit's reset time is up.",
        1,
        1_000,
    ),
    SettingSpec(
        "circuit_breaker_max_reset_timeout_ms",
        "CIRCUIT_BREAKER_MAX_RESET_TIMEOUT_MS",
        "int",
        600_000,
        "Cap on the open period, which doubles after each failed probe (ms).",
        1,
        7 * _DAY_MS,
    ),
    SettingSpec(
        "circuit_breaker_count_rate_limits",
        "CIRCUIT_BREAKER_COUNT_RATE_LIMITS",
        "bool",
        False,
        "Count 429 rate limits as failures.",
    ),
    SettingSpec(
        "circuit_breaker_scope",
        "CIRCUIT_BREAKER_SCOPE",
        "choice",
        "model",
        "One breaker per `provider:model` (model) or per provider (provider).",
        choices=("model", "provider"),
    ),
    SettingSpec(
        "fallback_on_context_length",
        "LLM_FALLBACK_ON_CONTEXT_LENGTH",
        "bool",
        False,
        "Fall back along the chain when the prompt is too long for a model.",
    ),
    SettingSpec(
        "fallback_on_content_filter",
        "LLM_FALLBACK_ON_CONTENT_FILTER",
        "bool",
        False,
        "Fall back along the chain when a provider's content filter blocks the call.",
    ),
    SettingSpec(
        "rate_limit_margin_ms",
        "LLM_RATE_LIMIT_MARGIN_MS",
        "int",
        1_000,
        "Refill time the limiter keeps in reserve (1 s = 1/60 of a per-minute limit) so "
        "that latency jitter never lets a call reach the provider before its budget does "
        "(ms); the long-run rate is unchanged.",
        0,
        60_000,
    ),
    SettingSpec(
        "budget_usd",
        "LLM_BUDGET_USD",
        "float",
        None,
        "Hard limit on total spend by this client (USD); calls beyond it are refused.",
        0,
        1e12,
    ),
    SettingSpec(
        "budget_per_run_usd",
        "LLM_BUDGET_PER_RUN_USD",
        "float",
        None,
        "Hard limit on spend per Context run_id (USD).",
        0,
        1e12,
    ),
    SettingSpec(
        "budget_per_agent_usd",
        "LLM_BUDGET_PER_AGENT_USD",
        "float",
        None,
        "Hard limit on spend per Context agent (USD).",
        0,
        1e12,
    ),
    SettingSpec(
        "log_prompts",
        "LOG_PROMPTS",
        "bool",
        False,
        "Also write prompt and response text to the request log (hashes are always written).",
    ),
    SettingSpec(
        "enable_tracing",
        "ENABLE_TRACING",
        "bool",
        True,
        "Emit OpenTelemetry spans and metrics when the otel extra is installed.",
    ),
    SettingSpec(
        "trace_content",
        "LLM_TRACE_CONTENT",
        "bool",
        False,
        "Record input and output messages on spans (redacted), as the GenAI conventions describe.",
    ),
    SettingSpec(
        "recorder_path",
        "STEADYLLM_DB",
        "str",
        "./steadyllm.db",
        "SQLite file where `steadyllm run` records flow runs (`steadyllm runs` reads it).",
    ),
    SettingSpec(
        "price_cache_dir",
        "STEADYLLM_PRICE_CACHE_DIR",
        "str",
        "",
        "Directory where prices resolved from genai-prices are remembered, so new processes "
        "need not import the catalog; empty: $XDG_CACHE_HOME/steadyllm (or ~/.cache/steadyllm); "
        "`off`: do not remember.",
    ),
    SettingSpec(
        "cache_backend",
        "LLM_CACHE_BACKEND",
        "choice",
        "sqlite",
        "Where cached responses live: sqlite (shared by processes on this machine), "
        "memory (this process) or redis (every machine; the default when "
        "STEADYLLM_REDIS_URL is set).",
        choices=("sqlite", "memory", "redis"),
    ),
    SettingSpec(
        "cache_path",
        "LLM_CACHE_PATH",
        "str",
        "./.steadyllm-cache.db",
        "SQLite file of the response cache.",
    ),
    SettingSpec(
        "cache_max_entries",
        "LLM_CACHE_MAX_ENTRIES",
        "int",
        10_000,
        "Most responses kept by the memory cache (least recently used go first).",
        1,
        100_000_000,
    ),
    SettingSpec(
        "redis_url",
        "STEADYLLM_REDIS_URL",
        "secret",
        None,
        "redis:// (or rediss://) URL of the Redis or Valkey server that shared state "
        "uses; needs the redis extra.",
    ),
    SettingSpec(
        "redis_prefix",
        "STEADYLLM_REDIS_PREFIX",
        "str",
        "steadyllm",
        "Prefix of every Redis key, to keep applications sharing a server apart.",
    ),
    SettingSpec(
        "redis_timeout_ms",
        "REDIS_TIMEOUT_MS",
        "int",
        1000,
        "Connect and reply timeout of each Redis command; past it the server counts as "
        "unreachable and the feature's failure policy applies.",
        1,
        60_000,
    ),
    SettingSpec(
        "redis_limiter_on_failure",
        "REDIS_LIMITER_ON_FAILURE",
        "choice",
        "closed",
        "When Redis is unreachable, the shared rate limiter refuses calls with "
        "SharedStateError (closed, retried within the deadline) or paces on this "
        "process's own limiter (open).",
        choices=("closed", "open"),
    ),
    SettingSpec(
        "redis_budgets_on_failure",
        "REDIS_BUDGETS_ON_FAILURE",
        "choice",
        "closed",
        "When Redis is unreachable, shared budgets refuse calls with SharedStateError "
        "(closed) or check them against this process's own budgets (open); spend is "
        "queued and written when Redis is back either way.",
        choices=("closed", "open"),
    ),
)
SPECS_BY_NAME = {s.name: s for s in SETTINGS}
