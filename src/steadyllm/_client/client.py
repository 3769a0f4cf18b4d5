"""The async Client: composes the layers and plans each call.

One call: resolve the model (alias, ``provider:model``) → build and check the
Request → the fallback chain under one total deadline → the pipeline
(``pipeline.py``): cache, admission, attempts with retries, one record, the
cache store. Streams, the tool loops and structured output go through the
same pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Unpack

from .._config.routing import parse_model
from .._config.settings import Settings
from .._core.checks import check_request
from .._core.clock import Clock, SystemClock
from .._core.context import Context, effective_context
from .._core.counts import TokenCount
from .._core.embeddings import Embeddings
from .._core.errors import ConfigError, LLMError
from .._core.redact import get_logger
from .._core.sinks import SinkFailures
from .._core.types import Message, Response, user
from .._metering.costs import CostTracker
from .._metering.models import lookup
from .._metering.observe import Stats
from .._resilience.attempts import run_attempts
from .._resilience.breaker import BreakerPolicy
from .._resilience.retry import RetryPolicy
from ..providers import Provider, build_provider
from .agent_calls import AgentCalls
from .compose import compose
from .embed_calls import (
    batch_plans,
    check_concurrency,
    check_dimensions,
    check_task,
    embed_inputs,
    run_batches,
)
from .pipeline import Pipeline
from .plan import (
    CallOptions,
    CallPlan,
    CountOptions,
    EmbedOptions,
    LoopOptions,
    RequestOptions,
    build_request,
    cache_mode,
    check_options,
    timeout_seconds,
)
from .stream import ChatStream

if TYPE_CHECKING:
    from .._agents.loop import Turns
    from .._cache.response import ResponseCache
    from .._shared.state import SharedState

logger = get_logger("steadyllm")


class Client(AgentCalls):
    """The async entry point. ``Client()`` reads its settings from the environment,
    ``.env`` and ``steadyllm.toml`` (as ``AsyncOpenAI()`` reads ``OPENAI_API_KEY``);
    ``Client(settings)`` uses exactly those, and ``Client(env=False)`` only defaults."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: bool = True,
        providers: Mapping[str, Provider] | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        on_cost_alert: Callable[[float, float], None] | None = None,
    ) -> None:
        if settings is None:
            settings = Settings.load() if env else Settings()
        self.settings = settings
        self.clock: Clock = clock if clock is not None else SystemClock()
        s = self.settings
        self.retry = (
            retry
            if retry is not None
            else RetryPolicy(
                s.max_retries,
                s.retry_base_delay_ms,
                max(s.retry_max_delay_ms, s.retry_base_delay_ms),
            )
        )
        #: Failures of the request log, exporters and hooks (counted, never raised).
        self._sinks = SinkFailures()
        parts = compose(
            s,
            self.clock,
            self._sinks,
            breaker=breaker,
            on_circuit_change=on_circuit_change,
            on_cost_alert=on_cost_alert,
        )
        #: The link to Redis when STEADYLLM_REDIS_URL is set (limiter, breaker,
        #: budgets and cost counters shared by every process), else None.
        self.shared: SharedState | None = parts.shared
        #: Circuit breakers and rate limiters, with ``.breakers.snapshot()`` and
        #: ``.limiters.snapshot()`` for their state and statistics.
        self.resilience = parts.resilience
        #: Prices, cost tracker, budgets, request log and statistics.
        self.meter = parts.meter
        #: Admission, the attempt loop, the record and the cache of every call.
        self._pipeline = Pipeline(s, self.clock, self.meter, self.resilience)
        self._providers: dict[str, Provider] = {}
        for name, provider in (providers or {}).items():
            provider.attach(self.clock)
            self._providers[name] = provider
        #: Each model's context window and output limit, looked up once (model facts).
        self._limits: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        self._closed = False

    @classmethod
    def from_env(
        cls,
        *,
        providers: Mapping[str, Provider] | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        on_circuit_change: Callable[[str, str, str], None] | None = None,
        on_cost_alert: Callable[[float, float], None] | None = None,
        **overrides: Any,
    ) -> Client:
        """Settings from the environment, ``.env`` and ``steadyllm.toml``; ``overrides``
        (setting names, e.g. ``max_retries=5``) win. Takes every constructor option."""
        return cls(
            Settings.load(**overrides),
            providers=providers,
            clock=clock,
            retry=retry,
            breaker=breaker,
            on_circuit_change=on_circuit_change,
            on_cost_alert=on_cost_alert,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every provider's connections. Safe to call twice."""
        self._closed = True
        await self.meter.aclose()
        if self.shared is not None:
            await self.shared.aclose()
        await self._pipeline.aclose()
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()

    def _provider(self, name: str) -> Provider:
        """The provider instance for ``name``, built on first use."""
        found = self._providers.get(name)
        if found is None:
            found = build_provider(name, self.settings)
            found.attach(self.clock)
            self._providers[name] = found
        return found

    # ------------------------------------------------------------ planning

    def _model_limits(self, provider: str, model: str) -> tuple[int | None, int | None]:
        """The model's context window and output limit, if its facts are known."""
        found = self._limits.get((provider, model))
        if found is None:
            info = lookup(provider, model, self.settings.models)
            found = (None, None) if info is None else (info.context_window, info.max_output_tokens)
            self._limits[(provider, model)] = found
        return found

    def _plan(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        stream: bool = False,
        context: Context | None = None,
        timeout_ms: int | None = None,
        max_retries: int | None = None,
        **fields: Unpack[RequestOptions],
    ) -> CallPlan:
        """Resolve and check one call without sending it (bad input fails here)."""
        if self._closed:
            raise LLMError("this client is closed; create a new one", retryable=False)
        check_options(context, max_retries, fields.get("extra"))
        s = self.settings
        ref = parse_model(
            model, aliases=s.aliases, default_provider=s.provider, default_model=s.default_model
        )
        request = build_request(ref.provider, ref.model, messages, stream, fields)
        check_request(request)
        timeout_s = timeout_seconds(timeout_ms, s.timeout_ms)
        retry = self.retry if max_retries is None else self.retry.with_retries(max_retries)
        provider = self._provider(ref.provider)
        now = self.clock.now()
        window, limit = self._model_limits(ref.provider, ref.model)
        return CallPlan(
            request,
            provider,
            effective_context(context),
            now + timeout_s,
            timeout_s,
            retry,
            now,
            window=window,
            output_limit=limit,
        )

    def _plan_chain(
        self, model: str | None, messages: Sequence[Message], **options: Any
    ) -> list[CallPlan]:
        """The plan for ``model`` followed by one per fallback model in its configured
        chain, all under one deadline. Every provider in the chain is checked now."""
        first = self._plan(model, messages, **options)
        chain = [first]
        seen = {first.request.model_id}
        for name in self.settings.fallbacks.get(first.request.model_id, ()):
            ref = parse_model(name, aliases=self.settings.aliases)
            if str(ref) in seen:
                continue
            seen.add(str(ref))
            request = replace(first.request, provider=ref.provider, model=ref.model)
            window, limit = self._model_limits(ref.provider, ref.model)
            provider = self._provider(ref.provider)
            chain.append(
                replace(
                    first, request=request, provider=provider, window=window, output_limit=limit
                )
            )
        return chain

    @property
    def costs(self) -> CostTracker:
        """Totals by model, provider, agent, run and project: ``client.costs.summary()``."""
        return self.meter.tracker

    def sink_failures(self) -> dict[str, int]:
        """How often the request log, OpenTelemetry or a hook failed, by cause. Such a
        failure never changes a call's outcome; the first of each cause is a warning."""
        return self._sinks.snapshot()

    @property
    def stats(self) -> Stats | None:
        """Latency and outcome statistics (with ENABLE_METRICS): ``client.stats.summary()``."""
        return self.meter.stats

    # ------------------------------------------------------------ calls

    async def chat(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> Response:
        """One complete reply. Options: temperature, top_p, max_tokens, stop, seed, user,
        tools, tool_choice, response_format, reasoning_effort, reasoning_summary,
        thinking_budget, prompt_cache_key, headers, keep_raw, extra, context, timeout_ms,
        max_retries, cache."""
        return await self._chat(model, messages, None, dict(options))

    async def _chat(
        self,
        model: str | None,
        messages: Sequence[Message],
        validate: Callable[[Response], None] | None,
        options: dict[str, Any],
    ) -> Response:
        """``chat``, with an optional check of the reply that runs before it is logged."""
        mode = cache_mode(options, self.settings.enable_cache)
        chain = self._plan_chain(model, messages, **options)
        return await self._pipeline.chat(chain, validate, mode)

    def response_cache(self) -> ResponseCache:
        """The response cache, opened on first use (CACHE_* settings)."""
        return self._pipeline.cache()

    def stream(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> ChatStream:
        """A streamed reply: ``async with client.stream(...) as s: async for ev in s: ...``.
        Same options as ``chat``. Bad input raises here, before anything is sent."""
        return self._stream(model, messages, dict(options))

    def _stream(
        self, model: str | None, messages: Sequence[Message], options: dict[str, Any]
    ) -> ChatStream:
        mode = cache_mode(options, self.settings.enable_cache)
        chain = self._plan_chain(model, messages, stream=True, **options)
        return ChatStream(self._pipeline, chain, mode)

    def _turns(self) -> Turns:
        """The narrow interface the tool loop and structured output drive turns through."""
        from .._agents.loop import Turns

        return Turns(
            self._chat, self._stream, self.clock, self.settings.timeout_ms, self.meter.telemetry
        )

    async def embed(
        self,
        model: str | None,
        inputs: str | Sequence[str],
        *,
        dimensions: int | None = None,
        task: str | None = None,
        concurrency: int = 4,
        **options: Unpack[EmbedOptions],
    ) -> Embeddings:
        """Embed ``inputs`` (a string or a list of strings): one vector per input, in
        order, as ``array('f')``. The inputs are split into batches of the provider's
        maximum per request, ``concurrency`` at a time under one deadline, each with the
        retries, limits, budget, cache, cost and record of a chat call. ``task``
        (Gemini, Vertex AI): "retrieval_query", "retrieval_document", ... Options:
        user, headers, extra, context, timeout_ms, max_retries, cache."""
        texts = embed_inputs(inputs)
        check_dimensions(dimensions)
        kind = check_task(task)
        limit = check_concurrency(concurrency)
        opts: dict[str, Any] = dict(options)
        mode = cache_mode(opts, self.settings.enable_cache)
        first = self._plan(model, [user(texts[0])], **opts)
        plans = batch_plans(first, texts, dimensions, kind)
        return await run_batches(self._pipeline, plans, mode, limit)

    async def count_tokens(
        self, model: str | None, messages: Sequence[Message], **options: Unpack[CountOptions]
    ) -> TokenCount:
        """The input tokens of a call with these messages and options (tools, system
        text, images: what the provider reads). Anthropic, Gemini, Vertex AI and the
        Responses API count with their own endpoint (free; retried under the deadline
        like any call, not rate-limited or booked here); other providers get a local
        estimate that errs high, flagged ``estimated``."""
        plan = self._plan(model, messages, **options)
        request = plan.request
        plan.request = replace(request, count=True)
        counted, attempts = await run_attempts(
            self.clock, plan, lambda: plan.provider.count_tokens(plan.request)
        )
        if counted is None:
            estimate = plan.prompt_tokens()
            return TokenCount(estimate, request.model, request.provider, True, "estimate")
        return TokenCount(counted, request.model, request.provider, False, "provider", attempts)

    async def predicted_wait(
        self, model: str | None, messages: Sequence[Message], max_tokens: int | None = None
    ) -> float:
        """Seconds a call like this would wait for the rate limiter if sent now."""
        return await self._pipeline.predicted_wait(
            self._plan(model, messages, max_tokens=max_tokens)
        )

    async def fleet_costs(self) -> dict[str, Any]:
        """Every process's totals from Redis (same shape as ``costs.summary()``);
        this process's queued counters are written first."""
        counters = self.meter.shared_costs
        if counters is None:
            raise ConfigError("fleet_costs needs shared state: set STEADYLLM_REDIS_URL")
        await counters.flush()
        return await counters.summary()


__all__ = ["CallOptions", "CallPlan", "Client", "LoopOptions"]
