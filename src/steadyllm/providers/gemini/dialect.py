"""What one Gemini server is: the Gemini API (generativelanguage.googleapis.com)
or Vertex AI, which speak the same ``generateContent`` wire."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    provider: str = "gemini"
    #: Variable to name in authentication errors.
    key_variable: str = "GEMINI_API_KEY"
