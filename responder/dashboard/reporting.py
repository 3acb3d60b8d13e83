"""The report page's model: the report (responder.report.build) and a chart of incidents per day.

The chart is an SVG drawn here, server-side: stacked bars per day, incidents automation
fixed below, the others (people were paged) above, with the numbers in a table beside it
so it reads without the picture and without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from responder.config.durations import parse_duration
from responder.errors import DurationError
from responder.report.build import build, daily, last_hours
from responder.runtime import Runtime

WINDOWS = ("24h", "7d", "30d")
WIDTH, HEIGHT, PAD = 640, 160, 24


@dataclass(frozen=True)
class Bar:
    day: str
    opened: int
    fixed: int
    x: float
    width: float
    fixed_height: float
    paged_height: float

    @property
    def paged(self) -> int:
        return self.opened - self.fixed


@dataclass(frozen=True)
class ReportPage:
    since: str
    compare: bool
    report: dict[str, Any]
    bars: list[Bar]
    top: int
    """The chart's scale: the most incidents on one day (at least 1)."""


def report_page(rt: Runtime, since: str, compare: bool) -> ReportPage:
    if since not in WINDOWS:
        since = "7d"
    try:
        length = parse_duration(since)
    except DurationError:  # pragma: no cover - WINDOWS are all valid
        length = 7 * 86400.0
    now = rt.clock()
    start, until = last_hours(length, now)
    rules = [rule.name for rule in rt.config.rules]
    report = build(rt.redis, rt.keys, start, until, compare=compare, rules=rules)
    days = max(int(length // 86400), 7)
    series = daily(rt.redis, rt.keys, days, now)
    top = max([d["opened"] for d in series] + [1])
    slot = (WIDTH - 2 * PAD) / len(series)
    scale = (HEIGHT - 2 * PAD) / top
    bars = [
        Bar(
            day=d["day"],
            opened=d["opened"],
            fixed=d["auto_remediated"],
            x=PAD + i * slot + slot * 0.15,
            width=slot * 0.7,
            fixed_height=d["auto_remediated"] * scale,
            paged_height=(d["opened"] - d["auto_remediated"]) * scale,
        )
        for i, d in enumerate(series)
    ]
    return ReportPage(since, compare, report, bars, top)
