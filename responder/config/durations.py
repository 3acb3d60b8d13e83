"""Prometheus-style durations: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from responder.errors import DurationError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
# Units must appear largest first, each at most once, as in Prometheus' model.ParseDuration.
# [0-9], not \d: \d would also accept non-ASCII digits (fullwidth, Arabic-Indic), which Prometheus refuses.
_DURATION = re.compile(
    r"(?:(?P<y>[0-9]+)y)?(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?(?:(?P<ms>[0-9]+)ms)?"
)


def parse_duration(text: str) -> float:
    """Return the duration in seconds.

    Raises:
        DurationError: the text is empty, has no unit, or repeats or misorders units.
    """
    spelled = text.strip()
    if spelled == "0":
        return 0.0
    match = _DURATION.fullmatch(spelled)
    if match is None or not any(match.groupdict().values()):
        raise DurationError(
            f'invalid duration "{text}": use a number with a unit, like 500ms, 30s, 5m or 1h30m'
        )
    return sum(int(v) * _UNITS[unit] for unit, v in match.groupdict().items() if v)


def format_duration(seconds: float) -> str:
    """The Prometheus-style spelling of ``seconds``, largest unit first (``90`` -> ``1m30s``).

    Days are the largest unit used (``7d``, not ``1w``); anything under half a millisecond is ``0s``.
    """
    millis = round(seconds * 1000)
    if millis == 0:
        # Compare after rounding: 0.0004s has no digits to print and would otherwise come out as "".
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        size = int(_UNITS[unit] * 1000)
        if millis >= size:
            out.append(f"{millis // size}{unit}")
            millis %= size
    if millis:
        out.append(f"{millis}ms")
    return "".join(out)


def _coerce(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration must be a string like 30s, not a boolean")
    if isinstance(value, int | float):
        # A bare number is ambiguous (seconds? minutes?); the seed's escalationTime was minutes.
        raise ValueError(f"duration {value!r} has no unit: write {value}s or {value}m")
    if not isinstance(value, str):
        raise ValueError("a duration must be a string like 30s")
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[float, BeforeValidator(_coerce), PlainSerializer(format_duration, return_type=str)]
"""Seconds, written in config as a Prometheus-style duration."""
