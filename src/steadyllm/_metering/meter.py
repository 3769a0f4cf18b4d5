"""Accounting for every call: cost, budgets, the request log, statistics, alerts.

Per attempt: ``warm`` resolves the model's price (the first lookup runs in a
thread, never on the event loop), ``preflight`` checks the per-request cap and
reserves the worst-case cost in every budget, and the attempt's ``Ledger``
collects what was really used (also by failed and cut-off attempts whose
usage the provider reported). Per call: ``finish`` writes one log record,
updates the tracker and the statistics, and fires the alert once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .._config.settings import Settings
from .._core.errors import BudgetExceededError, ConfigError, LLMError
from .._core.sinks import SinkFailures
from .._core.types import Request, Response, Usage
from .costs import BudgetReservation, Budgets, CostAlert, CostTracker, Spend
from .observe import RequestLog, Stats, call_logger, configure_logging
from .otel import Telemetry
from .prices import PriceBook, price_book, requested_tier
from .record import call_record
from .tokens import estimate_request_tokens, output_cap

if TYPE_CHECKING:
    from .._client.plan import CallPlan
    from .._shared.budgets import SharedBudgets, SharedHold
    from .._shared.costs import SharedCosts


@dataclass(slots=True)
class Ledger:
    """Usage and cost of every attempt of one call (across fallbacks)."""

    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    unpriced: bool = False
    #: Some attempt was booked at an estimate; ``estimated_cost`` is that part of ``cost``.
    estimated: bool = False
    estimated_cost: float = 0.0
    #: Wall-clock start, and (time_ns, name, attributes) of retries and fallbacks, for traces.
    started_ns: int = field(default_factory=time.time_ns)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    #: One (start_ns, end_ns, "provider:model", outcome) per attempt: child spans.
    attempts: list[tuple[int, int, str, str]] = field(default_factory=list)
    #: The call's span when it was opened at the start (chat with tracing set up).
    span: Any = None

    def event(self, name: str, **attributes: Any) -> None:
        self.events.append((time.time_ns(), name, attributes))

    def add(self, usage: Usage, cost: float | None, *, estimated: bool = False) -> None:
        if not (usage.prompt_tokens or usage.completion_tokens):
            return
        if estimated:
            self.estimated = True
            self.estimated_cost += cost or 0.0
        self.usage += usage  # the ledger's own object: summed in place, no copies
        if cost is None:
            self.unpriced = True
        else:
            self.cost += cost

    @property
    def cost_usd(self) -> float | None:
        return None if self.unpriced else self.cost


class Meter:
    def __init__(
        self,
        settings: Settings,
        *,
        prices: PriceBook | None = None,
        on_cost_alert: Callable[[float, float], None] | None = None,
        sinks: SinkFailures | None = None,
        shared_budgets: Callable[[Budgets], SharedBudgets] | None = None,
        shared_costs: SharedCosts | None = None,
    ) -> None:
        """``shared_budgets`` (built over the in-process budgets, which it falls back
        on) and ``shared_costs`` are the Redis twins the client injects with shared
        state; without them budgets and counters are this process's."""
        self.settings = settings
        #: Failures of the log, exporters and hooks: counted, never raised into a call.
        self.sinks = sinks if sinks is not None else SinkFailures()
        self.prices = prices or price_book(settings)
        self.tracker = CostTracker()
        self.budgets = Budgets(
            settings.budget_usd, settings.budget_per_run_usd, settings.budget_per_agent_usd
        )
        #: With shared state: budgets and the fleet's cost counters in Redis.
        self.shared_budgets = shared_budgets(self.budgets) if shared_budgets else None
        self.shared_costs = shared_costs
        self.alert = CostAlert(settings.alert_cost_threshold_usd, on_cost_alert, self.sinks)
        self.stats = Stats() if settings.enable_metrics else None
        self.log = (
            RequestLog(
                settings.log_file_path,
                partial(self.sinks.report, "the request log"),
                close_timeout_s=settings.log_close_timeout_ms / 1000,
            )
            if settings.log_to_file
            else None
        )
        self._telemetry: Telemetry | bool | None = None if settings.enable_tracing else False
        if settings.log_to_console or "log_level" in settings.sources:
            configure_logging(settings.log_level, settings.log_to_console)

    # ------------------------------------------------------------ per attempt

    async def warm(self, provider: str, model: str) -> None:
        if self.prices.needs_catalog(provider, model):
            await asyncio.to_thread(self.prices.lookup, provider, model)

    def cost(
        self, provider: str, model: str, usage: Usage, tier: str | None = None
    ) -> float | None:
        """What ``usage`` costs, at the rates of the service ``tier`` that served it."""
        price = self.prices.lookup(provider, model)
        return None if price is None else price.for_tier(tier).cost(usage)

    def finish_hit(self, plan: CallPlan, response: Response, *, stream: bool = False) -> None:
        """Account for an answer served from the cache: it costs nothing, and the
        cost it would have had is counted as saved."""
        saved = self.cost(
            response.provider or plan.request.provider,
            response.model or plan.request.model,
            response.usage,
            response.service_tier,
        )
        response.cached, response.attempts = True, 0
        response.usage.cost_usd = 0.0
        self.finish(
            plan,
            plan,
            response=response,
            stream=stream,
            saved_usd=saved,
            latency_ms=response.latency_ms,
        )

    @property
    def checks_spend(self) -> bool:
        """Whether calls need a pre-flight: a per-request cap or a budget is set."""
        return self.settings.max_cost_per_request_usd is not None or self.budgets.active

    async def preflight(
        self,
        request: Request,
        context: Any,
        default_max_tokens: int | None,
        hold_for: float,
        prompt_tokens: int | None = None,
        model_cap: int | None = None,
    ) -> BudgetReservation | SharedHold | None:
        """Refuse a call whose worst case breaks a limit; reserve it in every budget."""
        cap = self.settings.max_cost_per_request_usd
        if cap is None and not self.budgets.active:
            return None
        price = self.prices.lookup(request.provider, request.model)
        if price is None:
            raise ConfigError(
                f"a budget is set but no price is known for {request.model_id}, so its cost "
                "cannot be checked; add it under [prices] in steadyllm.toml"
            )
        output = output_cap(request, default_max_tokens, model_cap)[0]
        prompt = estimate_request_tokens(request) if prompt_tokens is None else prompt_tokens
        estimate = price.for_tier(requested_tier(request)).estimate(prompt, output)
        if cap is not None and estimate > cap:
            raise BudgetExceededError(
                f"this call may cost up to ${estimate:.4f} ({output} output tokens at most), above "
                f"MAX_COST_PER_REQUEST_USD=${cap:.4f}; lower max_tokens or raise the cap",
                provider=request.provider,
                model=request.model,
            )
        if not self.budgets.active:
            return None
        if self.shared_budgets is not None:
            return await self.shared_budgets.reserve(
                estimate, context, provider=request.provider, model=request.model, hold_for=hold_for
            )
        return self.budgets.reserve(
            estimate, context, provider=request.provider, model=request.model
        )

    # ------------------------------------------------------------ per call

    def finish(
        self,
        first: CallPlan,
        plan: CallPlan,
        *,
        response: Response | None = None,
        error: LLMError | None = None,
        stream: bool = False,
        abandoned: str | None = None,
        latency_ms: float = 0.0,
        saved_usd: float | None = None,
    ) -> None:
        """Book one call, whatever its outcome (``abandoned``: "cancelled" when the
        caller's task was cancelled, "abandoned" when it left a stream early): one
        tracker entry, one log line, one statistics sample, one span. The sinks'
        failures are counted (``sinks``), never raised."""
        ledger = plan.ledger
        ctx = plan.context
        request = plan.request
        ok = error is None and not abandoned
        cached = response is not None and response.cached
        partial = error.partial if error is not None else None
        if error is not None:
            error.cost_usd, error.cost_estimated = ledger.cost_usd, ledger.estimated
        for answer in (response, partial):
            if isinstance(answer, Response):  # the call's total over every attempt
                answer.total_cost_usd = 0.0 if cached else ledger.cost_usd
                answer.cost_estimated = ledger.estimated
        if cached:
            spend = Spend(
                request.provider, request.model, cost_usd=saved_usd, cache_hit=True, context=ctx
            )
        else:
            spend = Spend(
                request.provider,
                request.model,
                ledger.usage.prompt_tokens,
                ledger.usage.completion_tokens,
                ledger.usage.cached_tokens,
                ledger.usage.reasoning_tokens,
                ledger.cost_usd,
                ok,
                False,
                ctx,
                ledger.estimated_cost,
                ledger.estimated,
            )
        self.tracker.add(spend)
        if self.shared_costs is not None:
            self.shared_costs.add(spend)
        self.alert.check(self.tracker.total_cost)
        self._write(plan, first, ledger, response, error, stream, abandoned, latency_ms, saved_usd)

    def _write(
        self,
        plan: CallPlan,
        first: CallPlan,
        ledger: Ledger,
        response: Response | None,
        error: LLMError | None,
        stream: bool,
        abandoned: str | None,
        latency_ms: float,
        saved_usd: float | None,
    ) -> None:
        """The call's record to the log, statistics, OpenTelemetry and the console."""
        request = plan.request
        ok = error is None and not abandoned
        telemetry = self.telemetry()
        console = call_logger.isEnabledFor(20)
        if self.log is None and self.stats is None and telemetry is None and not console:
            return  # nothing reads the record: skip the hashing on the hot path
        record = call_record(
            plan, first, ledger, response, error, stream, abandoned, latency_ms, saved_usd
        )
        if self.settings.log_prompts:
            record["prompt"] = [m.to_dict() for m in request.messages]
            record["response"] = response.text if response is not None else None
        sinks = self.sinks
        if self.log is not None:
            sinks.call("the request log", self.log.write, record)
        if self.stats is not None:
            sinks.call("the statistics", self.stats.add, record)
        if telemetry is not None:
            content = None
            if self.settings.trace_content:
                content = (
                    [m.to_dict() for m in request.messages],
                    response.message.to_dict() if response is not None else None,
                )
            sinks.call(
                "OpenTelemetry",
                telemetry.record,
                record,
                ledger.started_ns,
                time.time_ns(),
                ledger.events,
                ledger.attempts,
                content,
                ledger.span,
            )
        if console:
            _console_line(request, ledger, error, ok, latency_ms, record["attempts"])

    @property
    def traced(self) -> bool:
        """Cheap pre-check for the hot path: tracing is on and OpenTelemetry imported."""
        return self._telemetry is not False and "opentelemetry.trace" in sys.modules

    def open_span(self, plan: CallPlan, *, current: bool = True) -> Any:
        """Open the call's span now and, with ``current``, make it current (tracing set
        up only); returns a token for ``close_span``, or None."""
        telemetry = self.telemetry()
        if telemetry is None:
            return None
        request = plan.request
        try:
            plan.ledger.span, token = telemetry.open(request.model, request.provider, current)
        except Exception as exc:  # a broken tracer never fails the call
            self.sinks.report("OpenTelemetry", exc)
            return None
        return token

    def close_span(self, token: Any) -> None:
        """Restore the context that was current before the call's span."""
        telemetry = self.telemetry()
        if token is not None and telemetry is not None:
            self.sinks.call("OpenTelemetry", telemetry.detach, token)

    def telemetry(self) -> Telemetry | None:
        """The OpenTelemetry recorder, once the application has set OpenTelemetry up: it
        must import ``opentelemetry`` to install a provider, so until then nothing is
        imported and nothing is built (checked per call: a later set-up is picked up)."""
        telemetry = self._telemetry
        if telemetry is False:
            return None  # ENABLE_TRACING=false
        if telemetry is None:
            if "opentelemetry.trace" not in sys.modules:
                return None
            telemetry = self._telemetry = Telemetry()
        return telemetry if isinstance(telemetry, Telemetry) and telemetry.configured() else None

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    async def aclose(self) -> None:
        """Write what is queued for Redis (budget settlements, cost counters), then close.
        Both drain at once: an outage costs one close grace, not one per queue."""
        queues = [q for q in (self.shared_budgets, self.shared_costs) if q is not None]
        await asyncio.gather(*(queue.aclose() for queue in queues))
        if self.log is not None:  # waits for the disk: off the loop
            await asyncio.to_thread(self.log.close)


def _console_line(
    request: Request,
    ledger: Ledger,
    error: LLMError | None,
    ok: bool,
    latency_ms: float,
    attempts: int,
) -> None:
    """The human-readable line of a call (LOG_TO_CONSOLE)."""
    cost = "n/a" if ledger.cost_usd is None else f"${ledger.cost_usd:.6f}"
    outcome = "ok" if ok else f"failed ({error.kind if error else '?'})"
    call_logger.info(
        "%s %s %d+%d tokens %s %.0fms attempt %s",
        request.model_id,
        outcome,
        ledger.usage.prompt_tokens,
        ledger.usage.completion_tokens,
        cost,
        latency_ms,
        attempts,
        extra={"outcome": "ok" if ok else "fail"},
    )
