"""Redis answers bytes (RQ needs a client without decode_responses); we want text."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """``value`` as str, whether Redis gave bytes or str."""
    return value.decode() if isinstance(value, bytes) else str(value)
