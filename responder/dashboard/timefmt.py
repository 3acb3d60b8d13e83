"""Times as people read them at 3 a.m.: "12 min ago" beside the exact UTC time.

Pure functions of two epoch times; the dashboard passes the runtime's clock as ``now``,
so every page of one request agrees on the present (and tests control it).
"""

from __future__ import annotations

from datetime import UTC, datetime

JUST_NOW = 10
"""Seconds either side of ``now`` that read as "just now" (clocks of web and workers differ a little)."""

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def span(seconds: float) -> str:
    """A duration in its largest whole unit (``45 s``, ``12 min``), with the next unit for hours and
    days under ten (``2 h 5 min``, ``1 d 3 h``), where the remainder still matters."""
    whole = int(abs(seconds))
    for i, (size, unit) in enumerate(_UNITS):
        if whole >= size:
            first, rest = divmod(whole, size)
            text = f"{first} {unit}"
            if size > 60 and first < 10:
                sub, sub_unit = _UNITS[i + 1]
                if rest >= sub:
                    text += f" {rest // sub} {sub_unit}"
            return text
    return "0 s"


def ago(then: float, now: float) -> str:
    """``then`` relative to ``now``: ``just now``, ``12 min ago``, ``in 5 min``."""
    delta = now - then
    if abs(delta) < JUST_NOW:
        return "just now"
    return f"{span(delta)} ago" if delta > 0 else f"in {span(delta)}"


def utc(ts: float) -> str:
    """``ts`` as ``2026-11-28 10:00:12 UTC``: what a title attribute or a log search wants."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def machine(ts: float) -> str:
    """``ts`` as RFC 3339 for a ``<time datetime=...>`` attribute."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
