"""The drain and storm+canary sections of docs/benchmarks.md (called from :mod:`bench.report`)."""

from __future__ import annotations

from typing import Any


def headline(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The few figures printed on the terminal after the drain or canary benchmark."""
    if name == "drain":
        return {
            n: {k: s[k] for k in ("drain_seconds", "alerts_per_s", "lost", "duplicate_actions")}
            for n, s in result["series"].items()
        }
    if name == "canary":
        return {k: result.get(k) for k in ("opened_s", "level2_late_s", "ack_applied_s")}
    return {}
