"""The one pipeline every call goes through after it is planned.

Chat, streams, the tool loops and structured output all admit each attempt
here (budget pre-flight, breaker, limiter), run the attempt loop and the
fallback chain here, and finish here: the response is stamped (attempts,
latency, context, fallback), checked, booked once (``record``), and kept in
the cache (``keep``). A stream drives the same steps event by event
(``ChatStream``) but calls these same functions, so an outcome cannot be
handled differently on two paths. Streams and the tool loop get this object,
never the ``Client``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .._config.settings import Settings
from .._core.clock import Clock
from .._core.dispatch import current as current_dispatch
from .._core.errors import ContentFilterError, ContextLengthError, LLMError
from .._core.redact import get_logger
from .._core.types import CacheMode, FallbackInfo, Response
from .._metering.attempt import AttemptBook
from .._metering.meter import Meter
from .._resilience.attempts import run_attempts, with_fallbacks
from .._resilience.guard import Guard, Resilience
from .._resilience.limiter import RateLimiter
from .compose import cache_backend

if TYPE_CHECKING:
    from .._cache.response import ResponseCache
    from .plan import CallPlan

Validate = Callable[[Response], None]
logger = get_logger("steadyllm")


class Pipeline:
    def __init__(
        self, settings: Settings, clock: Clock, meter: Meter, resilience: Resilience
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.meter = meter
        self.resilience = resilience
        self._cache: ResponseCache | None = None

    # ------------------------------------------------------------ the cache

    def cache(self) -> ResponseCache:
        """The response cache, opened on first use (CACHE_* settings)."""
        if self._cache is None:
            from .._cache.response import ResponseCache

            s = self.settings
            self._cache = ResponseCache(cache_backend(s), s.cache_ttl_ms / 1000.0, self.clock)
        return self._cache

    async def aclose(self) -> None:
        if self._cache is not None:
            await self._cache.aclose()

    # ------------------------------------------------------------ one attempt

    async def admit(self, plan: CallPlan) -> Guard:
        """Admit one attempt: budget pre-flight and the attempt's book (metering), then
        circuit breaker and rate limiter (resilience)."""
        request = plan.request
        meter = self.meter
        if meter.prices.needs_catalog(request.provider, request.model):
            await meter.warm(request.provider, request.model)
        if plan.window is not None and plan.prompt_tokens() > plan.window:
            await self.check_window(plan, plan.window)
        budget = None
        if meter.checks_spend:  # skip the coroutine on the common path: no cap, no budget
            budget = await meter.preflight(
                request,
                plan.context,
                plan.provider.default_max_tokens,
                plan.deadline - self.clock.now(),
                plan.prompt_tokens(),
                plan.output_limit,
            )
        book = AttemptBook.of(
            request,
            plan.provider.default_max_tokens,
            plan.prompt_tokens(),
            meter=meter,
            ledger=plan.ledger,
            budget=budget,
            model_cap=plan.output_limit,
        )
        try:
            return await self.resilience.enter(book, plan.deadline)
        except BaseException:
            if budget is not None:
                budget.release()
            raise

    async def complete(self, plan: CallPlan) -> Response:
        """One attempt of a complete (not streamed) call, judged by its guard."""
        guard = await self.admit(plan)
        token = current_dispatch.set(guard.dispatch)
        try:  # Guard.run, inlined: this is the path of every call
            response = await plan.provider.complete(plan.request)
        except LLMError as error:
            await guard.fail(error)
            raise
        except BaseException:
            guard.abandon()
            raise
        finally:
            current_dispatch.reset(token)
        await guard.succeed(response)
        return response

    async def check_window(self, plan: CallPlan, window: int) -> None:
        """A prompt whose upper estimate is above the model's window: ask the provider's
        count endpoint (free), and refuse the call before sending if the count is above
        too. Without a count, or if counting fails, the provider judges the call itself:
        the estimate errs high, so it alone never refuses."""
        plan.window = None  # judged once per call and model, not again on a retry
        request = replace(plan.request, count=True, stream=False)
        try:
            async with self.clock.timeout_at(plan.deadline):
                counted = await plan.provider.count_tokens(request)
        except LLMError as error:
            logger.warning("counting the prompt of %s failed: %s", request.model_id, error)
            return
        if counted is not None and counted > window:
            refused = ContextLengthError(
                f"the prompt is {counted} tokens by {request.provider}'s count, above the "
                f"{window}-token context window of {request.model_id} (sl.model_info); "
                "shorten it or use a model with a larger window",
                provider=request.provider,
                model=request.model,
            )
            refused.before_sending = True  # nothing was sent: a chain may skip the model
            raise refused

    async def predicted_wait(self, plan: CallPlan) -> float:
        """Seconds the rate limiter would hold ``plan`` if it were sent now."""
        limiter = self.resilience.limiters.get(plan.request.provider, plan.request.model)
        tokens = self.resilience.estimate(
            plan.request, plan.provider.default_max_tokens, plan.prompt_tokens(), plan.output_limit
        )
        if isinstance(limiter, RateLimiter):
            return limiter.predicted_wait(tokens)
        return await limiter.predicted_wait(tokens)

    # ------------------------------------------------------------ finishing

    def stamp(self, plan: CallPlan, response: Response, attempts: int) -> Response:
        """What the pipeline knows about a response: attempts, latency, context."""
        response.attempts = attempts
        response.latency_ms = (self.clock.now() - plan.started) * 1000.0
        response.context = plan.context
        response.provider = response.provider or plan.request.provider
        response.model = response.model or plan.request.model
        return response

    def record(
        self,
        chain: list[CallPlan],
        plan: CallPlan,
        *,
        response: Response | None = None,
        error: LLMError | None = None,
        abandoned: str | None = None,
        stream: bool = False,
    ) -> None:
        """Book a call once: cost tracker, request log, statistics, alert, span."""
        self.meter.finish(
            chain[0],
            plan,
            response=response,
            error=error,
            stream=stream,
            abandoned=abandoned,
            latency_ms=(self.clock.now() - plan.started) * 1000.0,
        )

    def serve_hit(
        self,
        plan: CallPlan,
        hit: Response,
        validate: Validate | None = None,
        *,
        stream: bool = False,
    ) -> Response:
        """A cached answer: no provider call, no cost; the cost it saved is counted."""
        hit.context = plan.context
        hit.latency_ms = (self.clock.now() - plan.started) * 1000.0
        if validate is not None:
            validate(hit)
        self.meter.finish_hit(plan, hit, stream=stream)
        return hit

    async def keep(
        self, chain: list[CallPlan], plan: CallPlan, response: Response, mode: CacheMode
    ) -> None:
        """Store a finished answer: only the requested model's own, only if it passed
        its check, and not when the call bypasses the cache."""
        passed = (response.validation or {}).get("status", "pass") == "pass"
        if mode != "bypass" and plan is chain[0] and passed:
            await self.cache().store(plan.request, response, plan.deadline)

    # ------------------------------------------------------------ a complete call

    async def chat(
        self, chain: list[CallPlan], validate: Validate | None, mode: CacheMode
    ) -> Response:
        """A planned call: from the cache, or from the chain (identical calls in flight
        share one provider call)."""
        first = chain[0]
        if mode == "use":
            cache = self.cache()
            hit = await cache.lookup(first.request, first.deadline)
            if hit is None:
                key, flight = cache.lead(first.request)
                if flight is None:  # this call leads: identical ones wait for its answer
                    answer: Response | None = None
                    try:
                        answer = await self._traced(chain, validate, mode)
                        return answer
                    finally:
                        cache.land(key, answer)
                hit = await cache.follow(flight, first.deadline)
            if hit is not None:
                return self.serve_hit(first, hit, validate)
        return await self._traced(chain, validate, mode)

    async def _traced(
        self, chain: list[CallPlan], validate: Validate | None, mode: CacheMode
    ) -> Response:
        """The chain under the call's span when tracing is set up (current while the
        call runs, so inner spans are its children)."""
        token = self.meter.open_span(chain[0]) if self.meter.traced else None
        try:
            return await self._run(chain, validate, mode)
        finally:
            if token is not None:
                self.meter.close_span(token)

    async def _run(
        self, chain: list[CallPlan], validate: Validate | None, mode: CacheMode
    ) -> Response:
        trying = [chain[0]]  # the plan running now, for the record of a cancelled call

        async def run(plan: CallPlan) -> tuple[Response, int]:
            trying[0] = plan
            result = await run_attempts(self.clock, plan, lambda: self.complete(plan))
            if result[0].finish_reason == "content_filter" and self._filter_falls_back(plan, chain):
                raise ContentFilterError(
                    f"{plan.request.model_id} refused the request (finish_reason content_filter)",
                    provider=plan.request.provider,
                    model=plan.request.model,
                    attempt=result[1],
                )
            return result

        fallback: FallbackInfo | None = None
        try:
            if len(chain) == 1:  # no fallbacks configured: skip the chain's bookkeeping
                (response, attempts), plan = await run(chain[0]), chain[0]
            else:
                (response, attempts), plan, fallback = await with_fallbacks(
                    chain, run, self.settings, self.clock
                )
        except LLMError as error:
            self.record(chain, plan_of(chain, error), error=error)
            raise
        except BaseException:  # cancelled (or interrupted): still one record, with its spend
            self.record(chain, trying[0], abandoned="cancelled")
            raise
        self.stamp(plan, response, attempts).fallback = fallback
        if validate is not None:
            validate(response)
        self.record(chain, plan, response=response)
        await self.keep(chain, plan, response, mode)
        return response

    def _filter_falls_back(self, plan: CallPlan, chain: list[CallPlan]) -> bool:
        return self.settings.fallback_on_content_filter and plan is not chain[-1]


def plan_of(chain: list[CallPlan], error: LLMError) -> CallPlan:
    """The plan of the model that raised ``error`` (the last one tried)."""
    for plan in reversed(chain):
        if plan.request.provider == error.provider and plan.request.model == error.model:
            return plan
    return chain[0]
