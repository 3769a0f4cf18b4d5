"""``client.embed``: inputs in batches through the one pipeline, joined in order.

The inputs are checked first (strings, not empty, valid Unicode), then split
into batches of the provider's maximum per request. Each batch is one call of
the pipeline, with everything a chat call has: the response cache (keyed on
the batch's inputs, model and dimensions), the budget pre-flight, breaker and
limiter (token-counted: an embeddings call generates nothing, so it reserves
only its input), retries, the JSONL record and the cost. The batches share one
deadline and run at most ``concurrency`` at a time; the vectors come back in
the inputs' order with usage and cost summed. There are no fallbacks: another
model's vectors live in another space, so they cannot stand in for these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from .._core.checks import check_text
from .._core.embeddings import Embeddings
from .._core.errors import InvalidRequestError
from .._core.types import CacheMode, Message, Response, Usage, user

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .plan import CallPlan


def embed_inputs(inputs: object) -> list[str]:
    """The texts to embed: one string, or a sequence of non-empty strings."""
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, Sequence) or isinstance(inputs, bytes):
        raise InvalidRequestError(
            f"inputs must be a string or a list of strings, not {type(inputs).__name__}"
        )
    if not inputs:
        raise InvalidRequestError("inputs is empty; pass at least one text to embed")
    texts = list(inputs)
    for i, text in enumerate(texts):
        check_text(text, f"inputs[{i}]")
        if not text:
            raise InvalidRequestError(
                f"inputs[{i}] is empty; providers refuse empty text, so drop it or embed "
                "a placeholder"
            )
    return texts


def check_dimensions(dimensions: object) -> None:
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequestError(
            f"dimensions={dimensions!r} must be a whole number of at least 1 (or None for "
            "the model's full size)"
        )


#: Gemini's and Vertex AI's task types, as ``task`` takes them.
TASKS = (
    "retrieval_query",
    "retrieval_document",
    "semantic_similarity",
    "classification",
    "clustering",
    "question_answering",
    "fact_verification",
    "code_retrieval_query",
)


def check_task(task: object) -> str | None:
    if task is None:
        return None
    if not isinstance(task, str) or task.lower() not in TASKS:
        raise InvalidRequestError(
            f"task={task!r} is not a task type; use one of {', '.join(TASKS)}"
        )
    return task.lower()


def check_concurrency(concurrency: object) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(f"concurrency={concurrency!r} must be a whole number >= 1")
    return concurrency


def batch_plans(
    first: CallPlan, texts: list[str], dimensions: int | None, task: str | None = None
) -> list[CallPlan]:
    """One plan per batch, all under the first plan's deadline; each its own ledger."""
    size = first.provider.embed_batch(first.request.model)
    if size is None:
        raise InvalidRequestError(
            f"{first.request.provider} has no embeddings endpoint; use an embedding model "
            "of openai:, azure:, gemini:, vertex: or an OpenAI-compatible server (e.g. "
            "openai:text-embedding-3-small)",
            provider=first.request.provider,
            model=first.request.model,
        )
    plans = []
    for start in range(0, len(texts), size):
        messages: list[Message] = [user(t) for t in texts[start : start + size]]
        request = replace(
            first.request, messages=messages, embed=True, dimensions=dimensions, task=task
        )
        plans.append(replace(first, request=request, ledger=type(first.ledger)()))
    return plans


async def run_batches(
    pipeline: Pipeline, plans: list[CallPlan], mode: CacheMode, concurrency: int
) -> Embeddings:
    """Every batch through the pipeline, joined in order. The first batch that fails
    cancels the others (each booked as cancelled) and its error is raised as it is."""
    if len(plans) == 1:
        return joined(plans[0], [await pipeline.chat(plans, None, mode)])
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: CallPlan) -> Response:
        async with gate:
            return await pipeline.chat([plan], None, mode)

    tasks = [asyncio.ensure_future(one(plan)) for plan in plans]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return joined(plans[0], [task.result() for task in tasks])


def joined(first: CallPlan, responses: list[Response]) -> Embeddings:
    usage = Usage()
    cost: float | None = None
    for response in responses:
        usage += response.usage
        if response.total_cost_usd is not None:
            cost = (cost or 0.0) + response.total_cost_usd
    usage.cost_usd = cost
    return Embeddings(
        vectors=[v for r in responses for v in r.embeddings],
        model=responses[0].model or first.request.model,
        provider=first.request.provider,
        usage=usage,
        responses=responses,
    )
