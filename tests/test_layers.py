"""The import-layers contract: every import of steadyllm runs down the layers
(docs/architecture.md), and no module imports itself back through others; and
the house rules: no module over 400 lines, no function over 60 lines unless it
is a data table (named below, with why), no nesting deeper than four blocks.

Function-local imports count (a lazy import is still an arrow); imports under
``if TYPE_CHECKING:`` do not, since they never run. A new arrow that runs back
up fails here, naming the file, the line and both layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Lowest first: a module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("steadyllm._core", "steadyllm._version")),
    ("config", ("steadyllm._config",)),
    ("metering", ("steadyllm._metering",)),
    ("http", ("steadyllm._http", "steadyllm.sse")),
    ("providers", ("steadyllm.providers",)),
    ("resilience", ("steadyllm._resilience",)),
    ("cache", ("steadyllm._cache",)),
    ("shared", ("steadyllm._shared",)),
    ("agents", ("steadyllm._agents",)),
    ("client", ("steadyllm._client",)),
    ("flows", ("steadyllm._flows",)),
    ("api", ("steadyllm",)),  # the package's own __init__: the public names
    ("cassette", ("steadyllm._cassette",)),
    ("emulator", ("steadyllm.emulator",)),
    ("testing", ("steadyllm.testing",)),
    ("cli", ("steadyllm._cli", "steadyllm.__main__")),
)


def layer_of(module: str) -> int:
    """The layer of a module: the one whose longest prefix names it."""
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank < 0:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS")
    return rank


def module_files(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted((root / "steadyllm").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (never run)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                hidden.update(id(n) for n in ast.walk(child))
    return hidden


def imports(
    module: str, source: str, is_package: bool, known: Iterable[str]
) -> Iterator[tuple[str, int]]:
    """(imported steadyllm module, line) for every import that runs, at any depth."""
    known = set(known)
    tree = ast.parse(source)
    hidden = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("steadyllm"):
                continue
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            if submodules:  # ``from . import x`` imports the module x
                for sub in submodules:
                    yield sub, node.lineno
            if len(submodules) < len(node.names) and target in known:
                yield target, node.lineno


def graph(files: Mapping[str, Path]) -> dict[str, list[tuple[str, int]]]:
    return {
        module: sorted(
            set(imports(module, path.read_text(), path.name == "__init__.py", files))
            - {(module, 0)}
        )
        for module, path in files.items()
    }


def upward(edges: Mapping[str, list[tuple[str, int]]]) -> list[str]:
    problems = []
    for module, targets in edges.items():
        here = layer_of(module)
        for target, line in targets:
            there = layer_of(target)
            if there > here:
                problems.append(
                    f"{module}:{line} imports {target}: layer {LAYERS[here][0]!r} "
                    f"may not import the higher layer {LAYERS[there][0]!r}"
                )
    return problems


def cycles(edges: Mapping[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target, _ in edges.get(node, ()):
            if target == node:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


# ------------------------------------------------------------------ the contract


@pytest.fixture(scope="module")
def edges() -> dict[str, list[tuple[str, int]]]:
    return graph(module_files(SRC))


def test_every_module_is_in_a_layer(edges: dict[str, list[tuple[str, int]]]) -> None:
    for module in edges:
        layer_of(module)  # raises for a module no layer names


def test_no_import_runs_back_up_a_layer(edges: dict[str, list[tuple[str, int]]]) -> None:
    problems = upward(edges)
    assert not problems, "\n".join(problems)


def test_no_import_cycles(edges: dict[str, list[tuple[str, int]]]) -> None:
    assert cycles(edges) == []


def test_in_process_modules_never_import_the_redis_ones(
    edges: dict[str, list[tuple[str, int]]],
) -> None:
    """Only the client composes: nothing below ``_shared`` knows it exists."""
    shared = layer_of("steadyllm._shared")
    for module, targets in edges.items():
        if layer_of(module) < shared:
            assert not [t for t, _ in targets if t.startswith("steadyllm._shared")], module


# ------------------------------------------------------------------ the checker can fail


def test_the_checker_sees_a_lazy_upward_import_and_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "steadyllm"
    (package / "_core").mkdir(parents=True)
    (package / "_client").mkdir()
    for init in (package, package / "_core", package / "_client"):
        (init / "__init__.py").write_text("")
    (package / "_core" / "types.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .._client import client  # type-only: allowed\n"
        "def late():\n"
        "    from .._client.client import Client  # runs: an upward arrow\n"
    )
    (package / "_client" / "client.py").write_text(
        "from .._core import types\nfrom . import plan\nclass Client: ...\n"
    )
    (package / "_client" / "plan.py").write_text("from .client import Client\n")
    found = graph(module_files(tmp_path))
    assert upward(found) == [
        "steadyllm._core.types:5 imports steadyllm._client.client: layer 'core' may not "
        "import the higher layer 'client'"
    ]
    assert cycles(found) == [
        ["steadyllm._client.client", "steadyllm._client.plan", "steadyllm._core.types"]
    ]


# ------------------------------------------------------------------ house rules

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_NESTING = 4
#: Functions allowed past MAX_FUNCTION_LINES because they are declarative.
DECLARATIVE = {
    "steadyllm._metering.record.call_record": "a data table: one record field per line",
}
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def nesting(node: ast.AST, depth: int = 0) -> int:
    """The deepest block nesting inside ``node`` (an ``elif`` is not a level)."""
    deepest = depth
    for name, value in ast.iter_fields(node):
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, ast.AST) or isinstance(child, _SCOPES):
                continue
            is_elif = (
                isinstance(node, ast.If)
                and name == "orelse"
                and isinstance(value, list)
                and len(value) == 1
                and isinstance(child, ast.If)
            )
            level = depth + 1 if isinstance(child, _BLOCKS) and not is_elif else depth
            deepest = max(deepest, nesting(child, level))
    return deepest


def house_problems(files: Mapping[str, Path]) -> list[str]:
    problems = []
    for module, path in files.items():
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            problems.append(f"{module}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            name = f"{module}.{node.name}"
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and name not in DECLARATIVE:
                problems.append(f"{name}: {length} lines (at most {MAX_FUNCTION_LINES})")
            if (depth := nesting(node)) > MAX_NESTING:
                problems.append(f"{name}: nested {depth} blocks deep (at most {MAX_NESTING})")
    return problems


def test_the_house_rules_hold() -> None:
    problems = house_problems(module_files(SRC))
    assert not problems, "\n".join(problems)


def test_the_house_rules_can_fail(tmp_path: Path) -> None:
    package = tmp_path / "steadyllm"
    package.mkdir()
    long_body = "".join(f"    x{i} = {i}\n" for i in range(61))
    deep = (
        "def deep(a):\n"
        + "".join("    " * (i + 1) + "if a:\n" for i in range(5))
        + ("    " * 6 + "return a\n")
    )
    chain = "def chain(a):\n    if a:\n        return 1\n" + "".join(
        f"    elif a == {i}:\n        return {i}\n" for i in range(5)
    )
    (package / "big.py").write_text(f"def long():\n{long_body}\n{deep}\n{chain}" + "\n" * 400)
    assert house_problems(module_files(tmp_path)) == [
        "steadyllm.big: 484 lines (at most 400)",
        "steadyllm.big.long: 62 lines (at most 60)",
        "steadyllm.big.deep: nested 5 blocks deep (at most 4)",
    ]
