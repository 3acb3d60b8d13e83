"""When each escalation level is due and whom it pages. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    number: int
    """1-based; numbers past the policy's last level are repeats of the last one."""
    due_in: float
    """Seconds after the incident opened."""
    teams: tuple[str, ...]


def teams_for(levels: Sequence[Sequence[str]], number: int) -> tuple[str, ...]:
    return tuple(levels[min(number, len(levels)) - 1])


def plan(levels: Sequence[Sequence[str]], after: float, *, repeats: int = 0) -> list[Level]:
    """Level k is due at (k-1) * ``after``; with repeats, the last level again every ``after``."""
    count = len(levels) + repeats
    return [Level(k, (k - 1) * after, teams_for(levels, k)) for k in range(1, count + 1)]


def paged_teams(levels: Sequence[Sequence[str]], reached: int) -> tuple[str, ...]:
    """Every team told so far when level ``reached`` has fired, in first-paged order."""
    seen: dict[str, None] = {}
    for k in range(1, max(reached, 1) + 1):
        for team in teams_for(levels, k):
            seen.setdefault(team, None)
    return tuple(seen)
