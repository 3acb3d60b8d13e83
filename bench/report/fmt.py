"""Formatting shared by the sections of docs/benchmarks.md."""

from __future__ import annotations

import math
from typing import Any


def ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def pct3(summary: dict[str, Any]) -> str:
    return " | ".join(ms(summary.get(f"p{p}")) for p in (50, 95, 99))


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance(entry: dict[str, Any]) -> str:
    mode = "quick sizes" if entry["quick"] else "full sizes"
    return (
        f"*Measured {entry['measured_at']} ({mode}, {entry['seconds']:.0f} s) by `{entry['command']}`; "
        f"load average {entry['loadavg_before']:.1f} before, {entry['loadavg_after']:.1f} after; "
        f"responder at commit {entry.get('commit', '?')}.*"
    )


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def get(stored: dict[str, Any], *path: str) -> Any:
    """``stored[path[0]][path[1]]...``, or None where a key is missing."""
    node: Any = stored
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node
