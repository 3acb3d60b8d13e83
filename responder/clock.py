"""Time and identifiers, injected: every record's timestamp and id comes from here.

:class:`responder.runtime.Runtime` carries a :data:`Clock` and a :data:`NewId`; production
uses :func:`time.time` and :func:`random_id`, tests pass a clock they move by hand so
escalation timers can be tested without sleeping.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Seconds since the epoch, as :func:`time.time`."""

NewId = Callable[[int], str]
"""``new_id(n)``: a fresh random id of ``n`` lowercase hex digits."""


def random_id(digits: int) -> str:
    return secrets.token_hex((digits + 1) // 2)[:digits]


def iso(ts: float) -> str:
    """``ts`` as RFC 3339 UTC with milliseconds (``2026-12-06T10:00:00.123Z``), as the API shows times."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """The inverse of :func:`iso` (accepts any RFC 3339 time)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
