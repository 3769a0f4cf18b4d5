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

import asyncio
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._core.errors import ConfigError
from .recorder import Recorder
from .step import LLMCallConfig, StepResult, render, run_llm_call, template_names

if TYPE_CHECKING:
    from .._client.client import Client


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

    def variables_used(self) -> set[str]:
        """Every variable a step's template, system text or model refers to (the
        first part of a dotted name: ``{{outline.text}}`` uses ``outline``)."""
        used: set[str] = set()
        for step in self.steps:
            cfg = step.config
            for text in (cfg.template, cfg.system, cfg.model, cfg.provider):
                if text:
                    used |= {name.split(".")[0] for name in template_names(text)}
        return used


#: A flow file may expand (through YAML aliases) to at most this many values, and
#: nest at most this deep: beyond is an alias bomb or a mistake, not a flow.
MAX_VALUES = 100_000
MAX_DEPTH = 64


#: ``fail(node, message)``: the error for a mistake at ``node``, naming its line.
Fail = Callable[[Any, str], ConfigError]


def _plain(node: Any, fail: Fail) -> Any:
    """The Python value of a YAML node, keys checked to be text."""
    import yaml

    def convert(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise fail(node, f"values nest more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            out = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise fail(key, "a key must be plain text, not a list or a mapping")
                out[yaml.safe_load(yaml.serialize(key))] = convert(value, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [convert(v, depth + 1) for v in node.value]
        return yaml.safe_load(yaml.serialize(node))

    return convert(node, 0)


def _check_size(root: Any, fail: Fail) -> None:
    """Refuse a file whose aliases expand it past ``MAX_VALUES`` values (an alias bomb
    is small on disk and exponential once expanded). Sizes are counted per node once."""
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep files cannot overflow the Python stack
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[id(node)] = 1
            continue
        if not children_done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes[id(c)] for c in children)
        if total > MAX_VALUES:
            raise fail(
                node,
                f"this value expands to more than {MAX_VALUES:,} values through YAML aliases "
                "(an alias bomb?); write it out or shorten it",
            )
        sizes[id(node)] = total


def load_flow(path: str | Path) -> Flow:
    import yaml

    path = Path(path)
    root = _compose(path, _read_text(path))

    def fail(node: Any, message: str) -> ConfigError:
        return ConfigError(f"{path} line {node.start_mark.line + 1}: {message}")

    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}: a flow file is a mapping with 'flow' and 'steps'")
    _check_size(root, fail)
    _check_keys(root, fail, known=("flow", "vars", "steps"), what="a flow has flow, vars and steps")
    top = {k.value: v for k, v in root.value}
    if (
        "steps" not in top
        or not isinstance(top["steps"], yaml.SequenceNode)
        or not top["steps"].value
    ):
        raise fail(top.get("steps", root), "'steps' must be a non-empty list of steps")
    variables = _plain(top["vars"], fail) if "vars" in top else {}
    if not isinstance(variables, dict):
        raise fail(top["vars"], "'vars' must be a mapping of name: value")
    steps: list[FlowStep] = []
    for index, node in enumerate(top["steps"].value, 1):
        steps.append(_step(node, index, steps, fail))
    flow_id = _plain(top["flow"], fail) if "flow" in top else path.stem
    return Flow(str(flow_id), steps, variables)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read flow file {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path} line {line}: not valid UTF-8 (byte {raw[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None


def _compose(path: Path, text: str) -> Any:
    """The YAML node tree, with nesting bounded and every error naming its line."""
    import yaml

    try:
        # The event stream first: it is read without recursion, so nesting too deep
        # for the composer (which recurses) is found here, with its line.
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    where = f" line {mark.line + 1}" if mark is not None else ""
                    raise ConfigError(
                        f"{path}{where}: values nest more than {MAX_DEPTH} levels deep"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem_mark", None)
        where = f" line {problem.line + 1}" if problem is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None


def _check_keys(
    node: Any,
    fail: Callable[[Any, str], ConfigError],
    *,
    known: tuple[str, ...] = (),
    what: str = "",
) -> None:
    """Every key of a mapping node is plain text (and, with ``known``, one of them)."""
    import yaml

    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise fail(key_node, "a key must be plain text, not a list or a mapping")
        if known and key_node.value not in known:
            raise fail(key_node, f"unknown field {key_node.value!r}; {what}")


def _step(node: Any, index: int, steps: list[FlowStep], fail: Fail) -> FlowStep:
    """Step ``index`` of the file, checked against the steps before it."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise fail(node, f"step {index} must be a mapping with id, model and prompt/template")
    _check_keys(node, fail)
    fields_ = {k.value: (k, v) for k, v in node.value}
    step_id = _plain(fields_["id"][1], fail) if "id" in fields_ else None
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
    data = {k: _plain(v, fail) for k, (_, v) in fields_.items() if k != "id"}
    try:
        config = LLMCallConfig.from_dict(data, f"step {step_id!r}")
    except ConfigError as exc:
        message = exc.message.replace("an ai.llm_call step", f"step {step_id!r}")
        raise fail(node, message) from None
    return FlowStep(step_id, config, node.start_mark.line + 1)


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
    unused = sorted(set(variables or {}) - flow.variables_used())
    if unused:  # a misspelled --var would otherwise be ignored without a word
        uses = ", ".join(sorted(flow.variables_used())) or "none"
        raise ConfigError(
            f"flow {flow.id!r} does not use the variable(s) {', '.join(unused)} "
            f"(it uses: {uses}); check the spelling"
        )
    values: dict[str, Any] = {**flow.vars, **dict(variables or {})}
    results: list[StepResult] = []
    out = progress or sys.stderr
    shown: LiveProgress | PlainProgress = PlainProgress(flow, out)
    if _is_terminal(out):
        await asyncio.to_thread(_load_rich)  # ~100 ms of imports: not on the event loop
        shown = LiveProgress(flow, out)
    with shown:
        for number, step in enumerate(flow.steps, 1):
            config = step.config
            if "{" in config.model:  # the model may be a variable: model: "{{model}}"
                config = replace(config, model=render(config.model, values))
            shown.started(number, step.id, config.model_ref)
            result = await run_llm_call(
                flow.id, step.id, config, recorder, client=client, run_id=run_id, variables=values
            )
            results.append(result)
            shown.ended(number, result)
            if not result.ok:
                break
            values[step.id] = result.value if result.value is not None else result.text
    return run_id, results


def _load_rich() -> None:
    import importlib

    for name in ("rich.console", "rich.live", "rich.table"):
        importlib.import_module(name)


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


class PlainProgress:
    """A line when a step starts and one when it ends (logs, CI, pipes)."""

    def __init__(self, flow: Flow, out: TextIO) -> None:
        self.total, self.out = len(flow.steps), out

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def started(self, number: int, step_id: str, model: str) -> None:
        print(f"[{number}/{self.total}] {step_id} ({model}) ...", file=self.out, flush=True)

    def ended(self, number: int, result: StepResult) -> None:
        r = result.record
        cost = "n/a" if r.cost_usd is None else f"${r.cost_usd:.6f}"
        print(
            f"      {r.status}: {r.total_tokens} tokens, {cost}, {r.latency_ms or 0:.0f} ms"
            + (f" - {r.reason}" if r.reason else ""),
            file=self.out,
            flush=True,
        )


class LiveProgress:
    """A live table of the steps in a terminal: status, tokens, cost and elapsed time,
    redrawn as the run goes (rich, imported only here)."""

    def __init__(self, flow: Flow, out: TextIO, console: Any = None) -> None:
        import time

        from rich.console import Console
        from rich.live import Live

        self._time = time.monotonic
        self.rows: list[list[str]] = [
            [s.id, s.config.model_ref, "waiting", "", "", ""] for s in flow.steps
        ]
        self._started: dict[int, float] = {}
        self.console = console or Console(file=out)
        self.live = Live(self._table(), console=self.console, refresh_per_second=4)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title_justify="left")
        for name in ("step", "model", "status", "tokens", "cost USD", "elapsed"):
            table.add_column(name, justify="right" if name in ("tokens", "cost USD") else "left")
        for row in self.rows:
            table.add_row(*row)
        return table

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._table())
        self.live.__exit__(None, None, None)

    def started(self, number: int, step_id: str, model: str) -> None:
        self._started[number] = self._time()
        self.rows[number - 1][1:3] = [model, "running"]
        self.live.update(self._table())

    def ended(self, number: int, result: StepResult) -> None:
        r = result.record
        elapsed = self._time() - self._started.get(number, self._time())
        self.rows[number - 1][2:] = [
            r.status + (f": {r.reason[:40]}" if r.reason else ""),
            str(r.total_tokens),
            "n/a" if r.cost_usd is None else f"{r.cost_usd:.6f}",
            f"{elapsed:.1f}s",
        ]
        self.live.update(self._table())
