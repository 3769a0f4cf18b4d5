"""Tools: declared from a typed function, a pydantic model, or raw JSON Schema,
and run safely for the tool-calling loop.

A ``Tool`` pairs a ``ToolSpec`` (what the model sees) with a handler (what runs)
and a validator for the arguments. Running a call never raises: an unknown
tool, arguments that are not JSON or do not match the schema, a handler that
raises or times out, all become an error result that is sent back to the model
(so it can correct itself) and recorded in a ``ToolExecution``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._core.errors import ConfigError
from .._core.types import ToolCall, ToolSpec
from .._core.units import ms_from_seconds

Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ToolExecution:
    """One tool call of the loop: what was asked, what came back, how long it took."""

    call: ToolCall
    arguments: Any
    result: Any
    error: str | None
    duration_ms: float
    iteration: int

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.call.id,
            "name": self.call.name,
            "arguments": self.arguments,
            "result": self.result,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "iteration": self.iteration,
        }


def _doc_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The summary paragraph and ``Args:`` descriptions of a Google-style docstring."""
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n", 1)[0].strip()
    params: dict[str, str] = {}
    match = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", doc, re.MULTILINE)
    if match:
        for line in match.group(1).splitlines():
            item = re.match(r"\s+(\w+)(?:\s*\(.*?\))?:\s*(.+)", line)
            if item:
                params[item.group(1)] = item.group(2).strip()
    return summary, params


#: Keywords whose value maps names (a property may be called "title") to schemas.
_NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions", "patternProperties"})


def _strip_titles(schema: Any) -> Any:
    """Drop pydantic's ``title`` annotations, and only them: a property named
    ``title`` is a name in ``properties``, not an annotation, and stays."""
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
        else:
            out[key] = _strip_titles(value)
    return out


#: A tool call's longest run unless the tool says otherwise (30 s).
DEFAULT_TIMEOUT_MS = 30_000.0
#: "Not given" for the deprecated ``timeout`` (seconds) spellings.
UNSET: Any = object()


def timeout_ms_of(timeout_ms: float | None, timeout: Any, where: str) -> float | None:
    """The timeout in milliseconds; ``timeout`` in seconds is the old spelling, still
    accepted with a DeprecationWarning (durations in steadyllm's API are ms)."""
    if timeout is UNSET:
        return timeout_ms
    return ms_from_seconds(timeout, where, "timeout", "timeout_ms", stacklevel=3)


class Tool:
    def __init__(
        self,
        spec: ToolSpec,
        handler: Handler | None,
        *,
        timeout_ms: float | None = DEFAULT_TIMEOUT_MS,
        validate: Callable[[Any], Any] | None = None,
        timeout: Any = UNSET,
    ) -> None:
        self.spec = spec
        self.handler = handler
        #: Longest run of one call (None: no limit).
        self.timeout_ms = timeout_ms_of(timeout_ms, timeout, "Tool")
        if validate is None:  # a raw schema: it must be one the checker can follow
            check_schema_shape(spec.parameters, f"the schema of tool {spec.name!r}")
        #: Checks and converts parsed arguments; raises ValueError with a readable reason.
        self.validate = validate or self._check_raw_schema

    def _check_raw_schema(self, args: Any) -> Any:
        check_schema(args, self.spec.parameters)
        if not isinstance(args, dict):
            raise ValueError("arguments must be a JSON object")
        return args

    @property
    def name(self) -> str:
        return self.spec.name

    @classmethod
    def from_function(
        cls,
        fn: Handler,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_ms: float | None = DEFAULT_TIMEOUT_MS,
        timeout: Any = UNSET,
    ) -> Tool:
        """A tool whose JSON Schema comes from ``fn``'s typed signature and docstring."""
        timeout_ms = timeout_ms_of(timeout_ms, timeout, "Tool.from_function")
        import pydantic

        summary, param_docs = _doc_parts(fn)
        fields: dict[str, Any] = {}
        for pname, param in _signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigError(
                    f"tool {fn.__name__}: *args/**kwargs cannot be described to a model"
                )
            if param.annotation is inspect.Parameter.empty:
                raise ConfigError(
                    f"tool {fn.__name__}: parameter {pname!r} needs a type annotation so its "
                    "JSON Schema can be derived"
                )
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (
                param.annotation,
                pydantic.Field(default, description=param_docs.get(pname)),
            )
        model = pydantic.create_model(f"{fn.__name__}_arguments", **fields)
        schema = _strip_titles(model.model_json_schema())
        spec = ToolSpec(name or fn.__name__, description or summary, schema)

        def validate(args: Any) -> Any:
            try:
                return dict(model.model_validate(args))
            except pydantic.ValidationError as exc:
                raise ValueError(_pydantic_errors(exc)) from None

        return cls(spec, fn, timeout_ms=timeout_ms, validate=validate)

    @classmethod
    def from_model(
        cls,
        model: type[Any],
        handler: Handler | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_ms: float | None = DEFAULT_TIMEOUT_MS,
        timeout: Any = UNSET,
    ) -> Tool:
        """A tool whose arguments are a pydantic model; the handler gets the model instance."""
        timeout_ms = timeout_ms_of(timeout_ms, timeout, "Tool.from_model")
        import pydantic

        schema = _strip_titles(model.model_json_schema())
        spec = ToolSpec(
            name or model.__name__, description or (inspect.getdoc(model) or ""), schema
        )

        def validate(args: Any) -> Any:
            try:
                return {"__model__": model.model_validate(args)}
            except pydantic.ValidationError as exc:
                raise ValueError(_pydantic_errors(exc)) from None

        return cls(spec, handler, timeout_ms=timeout_ms, validate=validate)

    async def run(self, call: ToolCall, arguments: Any, iteration: int) -> ToolExecution:
        """Validate and run one call; never raises (errors become the result)."""
        started = time.perf_counter()

        def done(result: Any, error: str | None) -> ToolExecution:
            return ToolExecution(
                call, arguments, result, error, (time.perf_counter() - started) * 1000.0, iteration
            )

        try:
            validated = self.validate(arguments)
        except ValueError as exc:
            return done(None, f"invalid arguments for {self.name}: {exc}")
        if self.handler is None:
            return done(None, f"tool {self.name} has no handler")
        try:
            limit = None if self.timeout_ms is None else self.timeout_ms / 1000.0
            async with asyncio.timeout(limit):
                if "__model__" in validated and len(validated) == 1:
                    outcome = self.handler(validated["__model__"])
                elif inspect.iscoroutinefunction(self.handler):
                    outcome = self.handler(**validated)
                else:  # a plain function runs in a thread: it must not block the loop
                    outcome = await asyncio.to_thread(self.handler, **validated)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
        except TimeoutError:
            return done(None, f"tool {self.name} timed out after {self.timeout_ms:g} ms")
        except Exception as exc:
            return done(None, f"tool {self.name} failed: {type(exc).__name__}: {exc}")
        execution = done(outcome, None)
        try:
            result_text(execution)
        except (TypeError, ValueError, RecursionError) as exc:  # a cycle, say
            return done(None, f"tool {self.name} returned a result that is not JSON: {exc}")
        return execution


def _pydantic_errors(exc: Any) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema_shape(schema: Any, where: str) -> None:
    """A raw tool schema must use the keywords ``check_schema`` reads in their JSON
    Schema shapes; anything else is a ``ConfigError`` when the tool is built."""
    if not isinstance(schema, Mapping):
        raise ConfigError(f"{where} must be a JSON Schema object, not {type(schema).__name__}")
    kind = schema.get("type")
    if kind is not None and not (
        isinstance(kind, str) or (isinstance(kind, list) and all(isinstance(k, str) for k in kind))
    ):
        raise ConfigError(f"{where}: 'type' must be a string or a list of strings")
    for key in ("required", "enum"):
        value = schema.get(key)
        if value is not None and not isinstance(value, list):
            raise ConfigError(f"{where}: {key!r} must be a list, not {type(value).__name__}")
    required = schema.get("required") or []
    if not all(isinstance(name, str) for name in required):
        raise ConfigError(f"{where}: 'required' must list property names (strings)")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, Mapping):
            raise ConfigError(f"{where}: 'properties' must be an object of schemas")
        for name, sub in props.items():
            check_schema_shape(sub, f"{where}, property {name!r}")
    items = schema.get("items")
    if items is not None and not isinstance(items, Mapping | bool):
        raise ConfigError(f"{where}: 'items' must be a schema object")
    if isinstance(items, Mapping):
        check_schema_shape(items, f"{where}, items")


def check_schema(value: Any, schema: Mapping[str, Any], path: str = "") -> None:
    """A small JSON Schema check (type, required, properties, items, enum,
    additionalProperties: false) for raw-schema tools; raises ValueError."""
    where = path or "(root)"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(
        isinstance(value, _JSON_TYPES.get(k, object))
        and not (k in ("integer", "number") and isinstance(value, bool))
        for k in kinds
    ):
        raise ValueError(f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for req in schema.get("required") or ():
            if req not in value:
                raise ValueError(f"{where}: missing required property {req!r}")
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            if extra:
                raise ValueError(f"{where}: unexpected properties {sorted(extra)}")
        for key, sub in props.items():
            if key in value and isinstance(sub, Mapping):
                check_schema(value[key], sub, f"{path}.{key}" if path else key)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{where}[{i}]")


def tool(
    fn: Handler | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_ms: float | None = DEFAULT_TIMEOUT_MS,
    timeout: Any = UNSET,
) -> Any:
    """Decorator: ``@sl.tool`` or ``@sl.tool(timeout_ms=5000)`` turns a typed function
    into a Tool."""
    timeout_ms = timeout_ms_of(timeout_ms, timeout, "sl.tool")

    def wrap(f: Handler) -> Tool:
        return Tool.from_function(f, name=name, description=description, timeout_ms=timeout_ms)

    return wrap(fn) if fn is not None else wrap


def as_tools(
    tools: Any, handlers: Mapping[str, Handler] | None, timeout_ms: float | None
) -> dict[str, Tool]:
    """Normalise what callers pass: Tools, typed functions, or ToolSpecs plus handlers."""
    out: dict[str, Tool] = {}
    handlers = dict(handlers or {})
    for item in tools:
        if isinstance(item, Tool):
            made = item
        elif isinstance(item, ToolSpec):
            made = Tool(item, handlers.get(item.name), timeout_ms=timeout_ms)
        elif callable(item):
            made = Tool.from_function(item, timeout_ms=timeout_ms)
        else:
            raise ConfigError(
                f"a tool must be a Tool, a ToolSpec or a typed function, not {item!r}"
            )
        if made.name in handlers and made.handler is None:
            made.handler = handlers[made.name]
        if made.name in out:
            raise ConfigError(f"tool {made.name!r} is given twice")
        out[made.name] = made
    unknown = set(handlers) - set(out)
    if unknown:
        raise ConfigError(
            f"handlers for tools that were not declared: {', '.join(sorted(unknown))}"
        )
    return out


def parse_arguments(call: ToolCall) -> tuple[Any, str | None]:
    """The call's arguments as JSON, or an error message for the model."""
    try:
        return (json.loads(call.arguments) if call.arguments.strip() else {}), None
    except json.JSONDecodeError as exc:
        return call.arguments, (
            f"arguments for {call.name} are not valid JSON ({exc.msg}); send a JSON object"
        )


def result_text(execution: ToolExecution) -> str:
    if execution.error is not None:
        return f"Error: {execution.error}"
    value = execution.result
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump_json"):
        return str(value.model_dump_json())
    return json.dumps(value, default=str)


__all__ = ["Tool", "ToolExecution", "tool"]


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """``fn``'s signature, string annotations evaluated in its module (__future__)."""
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError as exc:
        hint = f"an annotation names something ({exc}): import it in the tool's module"
        raise ConfigError(f"tool {getattr(fn, '__name__', fn)!r}: {hint}") from None
