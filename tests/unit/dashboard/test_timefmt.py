"""Relative times as the dashboard prints them."""

from __future__ import annotations

import pytest

from responder.dashboard.timefmt import ago, utc

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("seconds_before", "text"),
    [
        (0, "just now"),
        (9, "just now"),
        (-9, "just now"),  # a worker's clock a little ahead of the web's
        (12, "12 s ago"),
        (60, "1 min ago"),
        (12 * 60 + 59, "12 min ago"),
        (59 * 60, "59 min ago"),
        (3600, "1 h ago"),
        (2 * 3600 + 5 * 60, "2 h 5 min ago"),
        (11 * 3600 + 30 * 60, "11 h ago"),
        (86400 + 3 * 3600, "1 d 3 h ago"),
        (12 * 86400, "12 d ago"),
        (-5 * 60, "in 5 min"),
    ],
)
def test_ago_reads_like_a_person_would_say_it(seconds_before: float, text: str) -> None:
    assert ago(NOW - seconds_before, NOW) == text


def test_utc_is_the_exact_time_in_utc() -> None:
    assert utc(1_764_324_012.9) == "2025-11-28 10:00:12 UTC"
