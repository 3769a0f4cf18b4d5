"""Structured output: a reply parsed and validated against a schema (a pydantic
model or a JSON Schema), with invalid replies sent back with their errors up
to ``max_repairs`` times, all within the call's one total deadline.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from .._core.errors import LLMTimeoutError, StructuredOutputError
from .._core.types import Message, Response, user
from .loop import Turns, Validate
from .tools import check_schema


def _schema_of(schema: Any) -> tuple[str, dict[str, Any], Callable[[str], Any]]:
    """(name, JSON Schema, parse) for a pydantic model class or a JSON Schema dict."""
    if isinstance(schema, dict):

        def parse_dict(text: str) -> Any:
            value = json.loads(text)
            check_schema(value, schema)
            return value

        return str(schema.get("title") or "output"), schema, parse_dict
    import pydantic

    if not (isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)):
        from .._core.errors import InvalidRequestError

        raise InvalidRequestError("schema must be a pydantic model class or a JSON Schema dict")

    def parse_model(text: str) -> Any:
        return schema.model_validate_json(text)

    return schema.__name__, _model_schema(schema), parse_model


@functools.lru_cache(maxsize=256)
def _model_schema(model: type[Any]) -> dict[str, Any]:
    """A model's JSON Schema, made once per model: pydantic takes ~1.4 ms to make it,
    several times what the rest of a call costs. Read only, like the request it is in."""
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def _problems(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors()
        )
    return str(exc)


def _checker(parse: Callable[[str], Any], attempt: int, outcome: dict[str, Any]) -> Validate:
    """The check of one attempt's reply: the parsed value, or the errors, in ``outcome``
    and in the response's ``validation`` (which its log record carries)."""

    def validate(response: Response) -> None:
        try:
            outcome["value"] = parse(_strip_fence(response.text))
            response.validation = {"status": "pass", "attempt": attempt}
        except (ValueError, TypeError) as exc:
            outcome["error"] = _problems(exc)
            response.validation = {"status": "fail", "attempt": attempt, "errors": outcome["error"]}

    return validate


def _out_of_time(
    name: str, total_ms: float, attempts: int, errors: str, last: Response
) -> LLMTimeoutError:
    return LLMTimeoutError(
        f"chat_json did not get valid JSON for {name} within its total deadline "
        f"of {total_ms / 1000.0:g}s ({attempts} attempts; last errors: "
        f"{errors}); raise timeout_ms or LLM_TIMEOUT_MS",
        retryable=False,
        provider=last.provider,
        model=last.model,
    )


async def chat_json(
    turns: Turns,
    model: str | None,
    messages: Sequence[Message],
    schema: Any,
    max_repairs: int,
    options: dict[str, Any],
) -> tuple[Any, Response]:
    name, json_schema, parse = _schema_of(schema)
    fmt = {"type": "json_schema", "name": name, "schema": json_schema}
    history = list(messages)
    last_raw, last_errors = "", ""
    # timeout_ms is the total over every repair, as for any call: each attempt gets
    # what is left of it (an invalid value is refused by the first attempt's plan).
    total_ms = options.get("timeout_ms")
    if total_ms is None:
        total_ms = turns.timeout_ms
    clock, started = turns.clock, turns.clock.now()
    response = Response()
    for attempt in range(1, max_repairs + 2):
        outcome: dict[str, Any] = {}
        if attempt > 1 and isinstance(total_ms, int | float):
            left_ms = total_ms - (clock.now() - started) * 1000.0
            if left_ms <= 0:
                raise _out_of_time(name, total_ms, attempt - 1, last_errors, response)
            options = {**options, "timeout_ms": left_ms}
        validate = _checker(parse, attempt, outcome)
        response = await turns.chat(model, history, validate, {**options, "response_format": fmt})
        if "value" in outcome:
            response.parsed = outcome["value"]
            return outcome["value"], response
        last_raw, last_errors = response.text, outcome["error"]
        history += [
            response.message,
            user(
                f"Your reply was not valid: {last_errors}. Reply again with only the JSON value, "
                "matching the schema exactly."
            ),
        ]
    raise StructuredOutputError(
        f"no valid JSON for {name} after {max_repairs + 1} attempts: {last_errors}",
        raw=last_raw,
        errors=last_errors,
        provider=response.provider,
        model=response.model,
    )


def _strip_fence(text: str) -> str:
    """Models sometimes wrap JSON in a Markdown code fence despite JSON mode."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()
