"""Splitting reply text into stream chunks, shared by the fake provider and the emulator."""

from __future__ import annotations

import re

_WORDS = re.compile(r"\S+\s*|\s+")


def split_text(text: str, chunks: int | None) -> list[str]:
    """One chunk per word (with its trailing space), or ``chunks`` near-equal pieces."""
    if not text:
        return []
    if chunks is None:
        return _WORDS.findall(text)
    chunks = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), chunks)
    out, pos = [], 0
    for i in range(chunks):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out
