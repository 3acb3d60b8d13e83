"""Percentiles and the shapes the report prints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the value below which p% of the samples fall); NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], scale: float = 1000.0) -> dict[str, Any]:
    """n, p50/p95/p99, mean and max, in milliseconds by default (``scale`` 1000 from seconds)."""
    out: dict[str, Any] = {"n": len(values)}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(values, p) * scale
    out["min"] = min(values) * scale if values else math.nan
    out["mean"] = (sum(values) / len(values)) * scale if values else math.nan
    out["max"] = max(values) * scale if values else math.nan
    return out


def epoch(iso: str) -> float:
    """An ISO-8601 timestamp (as the timeline writes them, ``...Z``) as seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
