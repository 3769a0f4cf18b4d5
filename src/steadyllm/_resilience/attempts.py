"""Attempts and fallbacks: the two loops every call runs in.

``run_attempts`` retries one model per its ``RetryPolicy`` under the call's
one total deadline; ``with_fallbacks`` hands the call down the model's
fallback chain when an error says the next model should try. Both are plain
functions over a ``CallPlan`` so the client and the stream share them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from .._core.errors import FallbackError, LLMError, LLMTimeoutError
from .._core.redact import get_logger
from .._core.types import FallbackInfo
from .guard import falls_back

if TYPE_CHECKING:
    from .._client.plan import CallPlan
    from .._config.settings import Settings
    from .._core.clock import Clock

T = TypeVar("T")
logger = get_logger("steadyllm")


async def with_fallbacks(
    chain: list[CallPlan],
    run: Callable[[CallPlan], Awaitable[T]],
    settings: Settings,
    clock: Clock,
) -> tuple[T, CallPlan, FallbackInfo | None]:
    """Run ``run`` on each plan of the chain until one succeeds or an error
    should not fall back. Returns the result, the plan that produced it, and
    why earlier models were passed over."""
    failures: list[LLMError] = []
    for index, plan in enumerate(chain):
        try:
            result = await run(plan)
        except LLMError as error:
            last = index + 1 == len(chain)
            if last or not falls_back(error, settings) or clock.now() >= plan.deadline:
                if not failures:
                    raise
                raise exhausted([*failures, error]) from None
            failures.append(error)
            plan.ledger.event(
                "steadyllm.fallback",
                **{
                    "error.type": error.kind,
                    "steadyllm.from_model": plan.request.model_id,
                    "steadyllm.to_model": chain[index + 1].request.model_id,
                },
            )
            logger.warning(
                "falling back from %s to %s: %s",
                plan.request.model_id,
                chain[index + 1].request.model_id,
                error,
            )
            continue
        info = None
        if failures:
            info = FallbackInfo(
                requested=chain[0].request.model_id,
                reason=failures[-1].kind,
                errors=tuple(
                    {"model": f"{e.provider}:{e.model}", "kind": e.kind, "message": e.message}
                    for e in failures
                ),
            )
        return result, plan, info
    raise AssertionError("unreachable: a chain has at least one plan")  # pragma: no cover


async def run_attempts(
    clock: Clock, plan: CallPlan, attempt: Callable[[], Awaitable[T]]
) -> tuple[T, int]:
    """Run ``attempt`` until it succeeds, retrying per policy, under the deadline.
    Returns the result and the number of attempts it took."""
    number = 0
    scope = clock.timeout_at(plan.deadline)
    try:
        async with scope:
            while True:
                number += 1
                try:
                    return await attempt(), number
                except LLMError as error:
                    await _after_failure(clock, plan, error, number)
    except TimeoutError:
        if not scope.expired():
            raise
        raise deadline_error(plan, number) from None


async def _after_failure(clock: Clock, plan: CallPlan, error: LLMError, number: int) -> None:
    """Wait before the next attempt, or re-raise ``error`` if there is none."""
    error.locate(plan.request.provider, plan.request.model, number)
    time_left = plan.deadline - clock.now()
    delay = plan.retry.next_delay(error, number - 1, time_left)
    if delay is None:
        raise error
    plan.ledger.event(
        "steadyllm.retry",
        **{
            "steadyllm.attempt": number,
            "error.type": error.kind,
            "steadyllm.delay_s": delay,
        },
    )
    logger.info(
        "retrying %s in %.3fs after attempt %d failed: %s",
        plan.request.model_id,
        delay,
        number,
        error,
    )
    await clock.sleep(delay)


def deadline_error(plan: CallPlan, attempts: int) -> LLMTimeoutError:
    return LLMTimeoutError(
        f"call did not finish within its total deadline of {plan.timeout_s:g}s; raise "
        "timeout_ms for this call or LLM_TIMEOUT_MS",
        retryable=False,
        provider=plan.request.provider,
        model=plan.request.model,
        attempt=attempts,
    )


def exhausted(errors: list[LLMError]) -> FallbackError:
    """The error of a chain in which more than one model failed: every model's error,
    and a message that names each one and ends with the last."""
    tried = ", ".join(f"{e.provider}:{e.model} [{e.kind}]" for e in errors)
    return FallbackError(
        f"every model of the fallback chain failed ({tried}); the last said: {errors[-1].message}",
        errors,
    )
