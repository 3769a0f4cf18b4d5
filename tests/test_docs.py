"""Every Python example in the README and docs/ runs."""

from __future__ import annotations

import re
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
def test_example_runs_as_a_script(name: str, code: str) -> None:
    """Exactly as a reader would paste it into a file: no wrapping, no imports added
    (a snippet with top-level ``await`` fails here as it would for them)."""
    exec(compile(code, name, "exec"), {"__name__": "__main__"})  # noqa: S102 - our own docs


def test_there_are_examples() -> None:
    assert len(examples()) >= 4
