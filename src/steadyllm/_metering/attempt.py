"""What one attempt cost, booked once: priced into the call's ledger, its budget
hold settled, and its span remembered for the trace.

An attempt ends one of three ways, and each books (docs/resilience.md, "How
each outcome is booked"): success, the usage the provider reported; failure,
what the provider reported or, when the request may have reached it and no
final usage arrived, an estimate that errs high; abandonment (cancelled, our
deadline, the caller left a stream), the same estimate unless it provably
never reached the provider. The resilience guard (breaker and limiter
verdicts) calls this book; it prices nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._core.dispatch import Dispatch
from .._core.errors import LLMError
from .._core.types import Request, Response, Usage
from .prices import requested_tier
from .tokens import estimate_request_tokens, lost_attempt_usage, output_cap

if TYPE_CHECKING:
    from .._shared.budgets import SharedHold
    from .costs import BudgetReservation
    from .meter import Ledger, Meter

#: Failures after which the provider may have done (and billed) work it never reported.
LOST_KINDS = frozenset({"timeout", "connection", "stream_interrupted", "invalid_response"})


@dataclass(slots=True)
class AttemptBook:
    """The books of one attempt at ``request`` (build it with ``of``)."""

    request: Request
    #: The output cap the estimate of a lost attempt assumes.
    output_cap: int
    #: Whether the provider sees the cap (a cap it never sees is not charged by it).
    cap_sent: bool
    prompt_tokens: int
    #: Prices the usage into ``ledger`` (None: nothing is priced, as in a bare guard).
    meter: Meter | None = None
    ledger: Ledger | None = None
    #: The pre-flight's hold in the budgets, settled at the attempt's cost.
    budget: BudgetReservation | SharedHold | None = None
    #: Marked by the transport once the request's bytes were written.
    dispatch: Dispatch = field(default_factory=Dispatch)
    booked: bool = False
    #: Wall-clock start, for the attempt's span.
    started_ns: int = field(default_factory=time.time_ns)

    @classmethod
    def of(
        cls,
        request: Request,
        default_max_tokens: int | None,
        prompt_tokens: int | None = None,
        *,
        meter: Meter | None = None,
        ledger: Ledger | None = None,
        budget: BudgetReservation | SharedHold | None = None,
        model_cap: int | None = None,
    ) -> AttemptBook:
        """The book of one attempt at ``request``, with its output cap and prompt estimate."""
        cap, seen = output_cap(request, default_max_tokens, model_cap)
        prompt = estimate_request_tokens(request) if prompt_tokens is None else prompt_tokens
        return cls(request, cap, seen, prompt, meter, ledger, budget)

    @property
    def tokens(self) -> int:
        """What the limiter reserves: the prompt estimate plus the output cap."""
        return self.prompt_tokens + self.output_cap

    def _span(self, outcome: str) -> None:
        """Remember the attempt for the trace: one child span of the call's span."""
        if self.ledger is not None:
            name = f"{self.request.provider}:{self.request.model}"
            self.ledger.attempts.append((self.started_ns, time.time_ns(), name, outcome))

    def _price(self, usage: Usage, estimated: bool, tier: str | None = None) -> float | None:
        """Price ``usage`` into the call's ledger (once per attempt), at the service
        tier that served it, or else the one asked for."""
        self.booked = True
        request = self.request
        cost = (
            self.meter.cost(request.provider, request.model, usage, tier or requested_tier(request))
            if self.meter is not None
            else None
        )
        if self.ledger is not None:
            self.ledger.add(usage, cost, estimated=estimated)
        usage.cost_usd = cost
        return cost

    def _lost_usage(self, partial: Response | None, stopped_by_us: bool) -> Usage | None:
        """The usage to book for an attempt that ended without its final usage:
        None when it provably never reached the provider."""
        if not self.dispatch.may_have_reached:
            return None
        return lost_attempt_usage(
            self.request,
            self.output_cap,
            partial,
            stopped_by_us=stopped_by_us,
            prompt=self.prompt_tokens or None,
        )

    def _settle_budget(self, cost: float | None) -> Awaitable[None] | None:
        return self.budget.settle_soon(cost) if self.budget is not None else None

    def succeeded(self, response: Response) -> Awaitable[None] | None:
        """Book the reported usage; the budget's write to await, if any. A reply with
        output but no usage at all (a server that sends none, or refused
        ``stream_options``) is booked at what was sent, marked as an estimate."""
        self._span("ok")
        tier = response.service_tier
        if response.usage.total_tokens or not _has_output(response):
            return self._settle_budget(self._price(response.usage, False, tier))
        response.usage = lost_attempt_usage(
            self.request,
            self.output_cap,
            response,
            stopped_by_us=False,
            prompt=self.prompt_tokens or None,
        )
        return self._settle_budget(self._price(response.usage, True, tier))

    def failed(self, error: LLMError) -> tuple[Usage, Awaitable[None] | None]:
        """Book what a failed attempt cost; the usage booked and the budget's write."""
        self._span(error.kind)
        partial = error.partial if isinstance(error.partial, Response) else None
        usage: Usage | None = None
        estimated = False
        if error.kind in LOST_KINDS or (partial is not None and _has_output(partial)):
            # A stall we gave up on (timeout) was stopped by us; a cut or an in-band
            # error was the provider ending the stream itself.
            usage = self._lost_usage(partial, stopped_by_us=error.kind == "timeout")
            estimated = usage is not None
        if usage is None:  # the provider answered with an error: what it reported, if anything
            usage = partial.usage if partial is not None else Usage()
        cost = self._price(usage, estimated) if usage.total_tokens else None
        if partial is not None and usage.total_tokens:
            partial.usage = usage  # spend of a broken stream is still counted
        return usage, self._settle_budget(cost)

    def abandoned(self, partial: Response | None = None) -> None:
        """No verdict (cancelled, our deadline, the caller left): booked at an estimate
        if it may have reached the provider. Synchronous, so a cancelled call is never
        held up; a shared budget's write goes to the background."""
        self._span("abandoned")
        cost: float | None = None
        if not self.booked:
            usage = self._lost_usage(partial, stopped_by_us=True)
            if usage is not None:
                cost = self._price(usage, estimated=True)
                if partial is not None:
                    partial.usage = usage
        if self.budget is not None:
            self.budget.release(cost)


def _has_output(partial: Response) -> bool:
    return bool(partial.text or partial.tool_calls or partial.reasoning or partial.embeddings)
