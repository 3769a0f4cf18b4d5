"""Durations in steadyllm's API are milliseconds; the seconds spellings some options
had before are still accepted, with a DeprecationWarning, through one function."""

from __future__ import annotations

import warnings


def ms_from_seconds(
    seconds: float | None, where: str, old: str, new: str, *, stacklevel: int
) -> float | None:
    """``seconds`` (the deprecated ``old`` option of ``where``) in milliseconds, for
    ``new``. ``stacklevel`` is the caller's, as for ``warnings.warn``."""
    warnings.warn(
        f"{where}({old}=...) in seconds is deprecated; pass {new}=... in milliseconds",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    return None if seconds is None else float(seconds) * 1000.0
