"""OpenAI's strict mode for a JSON schema, where the schema allows it.

With ``strict: true`` OpenAI constrains decoding to the schema, so a structured
output or tool call always parses; but the server answers 400 for a schema
outside its subset (every property required, ``additionalProperties: false``
on every object, a short list of keywords, ten levels of nesting at most).
``strict_form`` returns the schema ready for strict mode (``additionalProperties:
false`` added where it was left out) when the schema fits that subset as it is,
and None when it does not: a schema with optional fields, free-form maps or
keywords strict mode refuses is sent without strict rather than rewritten, as
making an optional field required would change what the model is asked for.
The same rules as the openai SDK's ``to_strict_json_schema``, which rewrites
instead; on a schema that fits, both give the same result (tests/test_strict.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._core.types import ToolSpec

#: Keywords strict mode accepts (OpenAI's "Supported schemas").
_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "description",
        "title",
        "pattern",
        "format",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "minItems",
        "maxItems",
    }
)

#: OpenAI's limit on nesting.
_MAX_DEPTH = 10


class _NotStrictError(Exception):
    """The schema is outside strict mode's subset."""


def schema_and_strict(fmt: Mapping[str, Any], auto: bool) -> dict[str, Any]:
    """The ``schema`` and ``strict`` fields of a ``json_schema`` response format: as the
    call set them, or, with ``strict`` unset and ``auto``, strict wherever it fits."""
    if fmt.get("strict") is not None:
        return {"schema": fmt["schema"], "strict": fmt["strict"]}
    strict = strict_form(fmt["schema"]) if auto else None
    return {"schema": fmt["schema"]} if strict is None else {"schema": strict, "strict": True}


def tool_fields(tool: ToolSpec, auto: bool) -> dict[str, Any]:
    """A function tool's name, description, parameters and ``strict``: as the tool says,
    or, with ``strict`` unset and ``auto``, strict wherever its parameters fit (strict
    tool calls always parse). Without strict the key is left out, or False where the
    server's default is on (the Responses API: the caller sets that)."""
    out = tool.to_dict()
    if tool.strict is None and auto:
        strict = strict_form(tool.parameters)
        if strict is not None:
            out.update(parameters=strict, strict=True)
    return out


def strict_form(schema: Any) -> dict[str, Any] | None:
    """``schema`` ready for ``strict: true``, or None when strict mode cannot take it."""
    root = _inlined(schema) if isinstance(schema, Mapping) else None
    if root is None or root.get("type") != "object":
        return None  # the root must be an object
    try:
        return _strict(root, 0)
    except _NotStrictError:
        return None


def _inlined(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The root with a reference to its own definitions inlined, as the openai SDK
    does (a recursive pydantic model's schema is ``{"$defs": ..., "$ref": ...}``)."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    for key in ("$defs", "definitions"):
        prefix, definitions = f"#/{key}/", schema.get(key)
        if isinstance(ref, str) and ref.startswith(prefix) and isinstance(definitions, Mapping):
            target = definitions.get(ref[len(prefix) :])
            if isinstance(target, Mapping):
                return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return None


def _strict(node: Any, depth: int) -> dict[str, Any]:
    if not isinstance(node, Mapping) or depth > _MAX_DEPTH or not node.keys() <= _KEYWORDS:
        raise _NotStrictError
    if "$ref" in node and len(node) > 1:
        raise _NotStrictError  # a reference with siblings
    out = dict(node)
    if "properties" in node or node.get("type") == "object":
        out["properties"] = _object_properties(node, depth)
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = _strict(node["items"], depth + 1)
    if "anyOf" in node:
        if not isinstance(node["anyOf"], list):
            raise _NotStrictError
        out["anyOf"] = [_strict(option, depth + 1) for option in node["anyOf"]]
    for key in ("$defs", "definitions"):
        if key in node:
            out[key] = _named(node[key], depth)
    return out


def _object_properties(node: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties = node.get("properties")
    required = node.get("required", [])
    if (
        not isinstance(properties, Mapping)  # an object of any shape: a free-form map
        or not isinstance(required, list)
        or set(required) != set(properties)  # every property required
        or node.get("additionalProperties", False) is not False  # no free-form maps
    ):
        raise _NotStrictError
    return {name: _strict(value, depth + 1) for name, value in properties.items()}


def _named(definitions: Any, depth: int) -> dict[str, Any]:
    if not isinstance(definitions, Mapping):
        raise _NotStrictError
    return {name: _strict(value, depth + 1) for name, value in definitions.items()}
