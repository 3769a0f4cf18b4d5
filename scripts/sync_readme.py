"""Regenerate the README's settings table from steadyllm._config.settings.SETTINGS."""

from __future__ import annotations

from pathlib import Path

from steadyllm._config.settings import settings_table_markdown

MARK = (
    "<!-- generated from the settings fields (steadyllm/_config/specs_*.py); "
    "a test checks it matches -->\n"
)
README = Path(__file__).resolve().parents[1] / "README.md"

text = README.read_text()
start = text.index(MARK) + len(MARK)
end = text.index("\n\n", start)
README.write_text(text[:start] + settings_table_markdown() + text[end:])
print("README settings table regenerated")
