"""Prometheus-style durations: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from responder.errors import DurationError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
# Units must appear largest first, each at most once, as in Prometheus' model.ParseDuration.
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)


def parse_duration(text: str) -> float:
    """Return the duration in seconds.

    Raises:
        DurationError: the text is empty, has no unit, or repeats or misorders units.
    """
    match = _DURATION.match(text.strip()) if text.strip() not in ("", "0") else None
    if text.strip() == "0":
        return 0.0
    if match is None or not any(match.groupdict().values()):
        raise DurationError(f'invalid duration "{text}": use a number with a unit, like 500ms, 30s, 5m or 1h30m')
    return sum(int(v) * _UNITS[unit] for unit, v in match.groupdict().items() if v)


def format_duration(seconds: float) -> str:
    """The shortest Prometheus-style spelling of ``seconds`` (``90`` -> ``1m30s``)."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
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
