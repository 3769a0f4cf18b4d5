"""Every Python example in the README and docs/ runs."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for i, code in enumerate(BLOCK.findall(doc.read_text())):
            found.append((f"{doc.name}#{i}", code))
    return found


@pytest.mark.parametrize(("name", "code"), examples(), ids=[n for n, _ in examples()])
def test_example_runs(name: str, code: str) -> None:
    if "await " in code and "asyncio.run(" not in code:
        # a snippet written as if inside an async function
        code = (
            "import asyncio\nimport steadyllm as sl\n\nasync def _snippet() -> None:\n"
            + textwrap.indent(code, "    ")
            + "\nasyncio.run(_snippet())\n"
        )
    exec(compile(code, name, "exec"), {"__name__": "__docs__"})  # noqa: S102 - our own docs


def test_there_are_examples() -> None:
    assert len(examples()) >= 4
