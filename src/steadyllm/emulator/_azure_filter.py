"""Azure OpenAI's content filter as the emulator plays it: a verdict per category
on the prompt and on each piece of the completion, the verdict that stopped a
completion (``finish_reason: content_filter``), and the 400 body of a prompt the
filter refused."""

from __future__ import annotations

from typing import Any

CATEGORIES = ("hate", "self_harm", "sexual", "violence")


def verdicts(filtered: bool = False) -> dict[str, Any]:
    """Every category safe; a completion the filter stopped has its violence verdict
    filtered at medium severity."""
    out: dict[str, Any] = {k: {"filtered": False, "severity": "safe"} for k in CATEGORIES}
    if filtered:
        out["violence"] = {"filtered": True, "severity": "medium"}
    return out


def refused_prompt(message: str) -> dict[str, Any]:
    """The 400 of a prompt the filter refused (a jailbreak attempt, here)."""
    return {
        "error": {
            "message": message,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"jailbreak": {"filtered": True, "detected": True}},
            },
        }
    }
