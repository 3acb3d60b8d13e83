"""Prometheus-style durations in config: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from responder.config.durations import Duration, format_duration, parse_duration
from responder.errors import DurationError

HINT = "use a number with a unit, like 500ms, 30s, 5m or 1h30m"


class _Step(BaseModel):
    timeout: Duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1y", 31536000.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("1m30s500ms", 90.5),
        ("1y2w3d4h5m6s7ms", 31536000 + 2 * 604800 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6 + 0.007),
        ("90m", 5400.0),
        (" 5m ", 300.0),
    ],
)
def test_parse_duration_reads_prometheus_durations_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["5", "5x", "m5", "1m1h", "", "   ", "1h1h", "ms", "-5m", "1.5h", "5 m", "00", "5M", "\uff15m"],
)
def test_parse_duration_rejects_what_prometheus_rejects(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)

    assert str(info.value) == f'invalid duration "{text}": {HINT}'


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (30, "30s"),
        (90, "1m30s"),
        (5400, "1h30m"),
        (172800, "2d"),
        (604800, "7d"),
        (90061.001, "1d1h1m1s1ms"),
        (0.0004, "0s"),
        (0.0015, "2ms"),
    ],
)
def test_format_duration_spells_seconds_largest_unit_first(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["500ms", "30s", "5m", "1h30m", "2d", "1d1h1m1s1ms"])
def test_format_duration_reads_back_to_the_same_duration(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_duration_field_parses_config_strings_and_serializes_them_back() -> None:
    step = _Step.model_validate({"timeout": "1h30m"})

    assert step.timeout == 5400.0
    assert step.model_dump() == {"timeout": "1h30m"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "duration 5 has no unit: write 5s or 5m"),
        (True, "a duration must be a string like 30s, not a boolean"),
        (None, "a duration must be a string like 30s"),
        ("5x", f'invalid duration "5x": {HINT}'),
    ],
)
def test_duration_field_rejects_values_without_a_unit(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _Step.model_validate({"timeout": value})

    (error,) = info.value.errors()
    assert error["loc"] == ("timeout",)
    assert error["msg"] == f"Value error, {message}"
