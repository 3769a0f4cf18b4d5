"""Flow files: a list of ``ai.llm_call`` steps run in order, from YAML.

    flow: research                 # the flow's id
    vars:                          # defaults; --var NAME=VALUE overrides
      topic: tide pools
    steps:
      - id: outline
        model: openai:gpt-4o-mini
        template: "Outline a short article about {{topic}}."
      - id: draft
        model: anthropic:claude-sonnet-4-5
        template: "Write it from this outline: {{outline}}"

A step's template can use any earlier step's output by its id (its text, or
its parsed value when it has a ``json_schema``). A run stops at the first step
that fails. Mistakes in the file are reported with their line and field.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._errors import ConfigError
from ._flows import LLMCallConfig, StepResult, run_llm_call
from ._recorder import Recorder

if TYPE_CHECKING:
    from ._client import Client


@dataclass
class FlowStep:
    id: str
    config: LLMCallConfig
    line: int


@dataclass
class Flow:
    id: str
    steps: list[FlowStep]
    vars: dict[str, Any] = field(default_factory=dict)


def _plain(node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return {_plain(k): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    return yaml.safe_load(yaml.serialize(node))


def load_flow(path: str | Path) -> Flow:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read flow file {path}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None

    def fail(node: Any, message: str) -> ConfigError:
        return ConfigError(f"{path} line {node.start_mark.line + 1}: {message}")

    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}: a flow file is a mapping with 'flow' and 'steps'")
    for key_node, _ in root.value:
        if key_node.value not in ("flow", "vars", "steps"):
            raise fail(
                key_node, f"unknown field {key_node.value!r}; a flow has flow, vars and steps"
            )
    top = {k.value: v for k, v in root.value}
    if (
        "steps" not in top
        or not isinstance(top["steps"], yaml.SequenceNode)
        or not top["steps"].value
    ):
        raise fail(top.get("steps", root), "'steps' must be a non-empty list of steps")
    variables = _plain(top["vars"]) if "vars" in top else {}
    if not isinstance(variables, dict):
        raise fail(top["vars"], "'vars' must be a mapping of name: value")
    steps: list[FlowStep] = []
    for index, node in enumerate(top["steps"].value, 1):
        if not isinstance(node, yaml.MappingNode):
            raise fail(node, f"step {index} must be a mapping with id, model and prompt/template")
        fields_ = {k.value: (k, v) for k, v in node.value}
        step_id = _plain(fields_["id"][1]) if "id" in fields_ else None
        if not isinstance(step_id, str) or not step_id.isidentifier():
            raise fail(node, f"step {index} needs an id made of letters, digits and _")
        if any(s.id == step_id for s in steps):
            raise fail(fields_["id"][1], f"step id {step_id!r} is used twice")
        known = {f.name for f in dataclass_fields(LLMCallConfig)} | {"id"}
        for key, (key_node, _) in fields_.items():
            if key not in known:
                raise fail(
                    key_node,
                    f"step {step_id!r}: unknown field {key!r}; known fields: "
                    + ", ".join(sorted(known)),
                )
        data = {k: _plain(v) for k, (_, v) in fields_.items() if k != "id"}
        try:
            config = LLMCallConfig.from_dict(data, f"step {step_id!r}")
        except ConfigError as exc:
            message = exc.message.replace("an ai.llm_call step", f"step {step_id!r}")
            raise fail(node, message) from None
        steps.append(FlowStep(step_id, config, node.start_mark.line + 1))
    flow_id = _plain(top["flow"]) if "flow" in top else path.stem
    return Flow(str(flow_id), steps, variables)


async def run_flow(
    flow: Flow,
    client: Client,
    recorder: Recorder,
    *,
    variables: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    progress: TextIO | None = None,
) -> tuple[str, list[StepResult]]:
    """Run the steps in order; earlier outputs become variables. Stops at a failure."""
    run_id = run_id or uuid.uuid4().hex[:12]
    values: dict[str, Any] = {**flow.vars, **dict(variables or {})}
    results: list[StepResult] = []
    out = progress or sys.stderr
    for number, step in enumerate(flow.steps, 1):
        print(
            f"[{number}/{len(flow.steps)}] {step.id} ({step.config.model_ref}) ...",
            file=out,
            flush=True,
        )
        result = await run_llm_call(
            flow.id, step.id, step.config, recorder, client=client, run_id=run_id, variables=values
        )
        results.append(result)
        r = result.record
        cost = "n/a" if r.cost_usd is None else f"${r.cost_usd:.6f}"
        print(
            f"      {r.status}: {r.total_tokens} tokens, {cost}, {r.latency_ms or 0:.0f} ms"
            + (f" - {r.reason}" if r.reason else ""),
            file=out,
            flush=True,
        )
        if not result.ok:
            break
        values[step.id] = result.value if result.value is not None else result.text
    return run_id, results
