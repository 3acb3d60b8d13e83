"""The incident report over a window: read the hourly buckets, add them up, compare with the window before.

JSON shape (the contract of ``GET /api/report``): ``window`` (``since``, ``until``),
``incidents`` (``opened``, ``acknowledged``, ``resolved``, ``auto_remediated``),
``mtta_seconds`` and ``mttr_seconds`` (``median``, ``p90``; null without a sample),
``auto_remediated_share``, ``rules`` and ``teams`` (lists of objects with ``name`` and their
counts), and with ``compare`` a ``previous`` report of the same shape and ``change_percent``.

Windows are whole hours: an incident belongs to the hour it opened in, and a window takes
every hour from the one ``since`` falls in to the one ``until`` falls in; ``compare`` takes as
many hours before them. :func:`last_hours` gives the usual window, the last N hours ending
with the current one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from responder.clock import iso
from responder.store.codec import text
from responder.store.reports import HOUR, RULE_FACTS, hour_of

if TYPE_CHECKING:
    from redis import Redis

    from responder.store.keys import Keys


def build(
    redis: Redis,
    keys: Keys,
    since: float,
    until: float,
    *,
    compare: bool = False,
    rules: Sequence[str] = (),
) -> dict[str, Any]:
    """The report for ``[since, until)``; ``rules`` (the configured ones) are listed even when unused."""
    first, last = hour_of(since), hour_of(max(until - 1e-6, since))
    report = _window(redis, keys, range(first, last + 1), rules)
    if compare:
        count = last - first + 1
        previous = _window(redis, keys, range(first - count, first), rules)
        report["previous"] = previous
        report["change_percent"] = change_percent(report, previous)
    return report


def last_hours(length: float, now: float) -> tuple[float, float]:
    """``(since, until)`` for the last ``length`` seconds in whole hours, the current hour last
    (``7d`` is the last 168 hours, the current one so far included)."""
    count = max(math.ceil(length / HOUR), 1)
    return (hour_of(now) - count + 1) * HOUR, now


def _window(redis: Redis, keys: Keys, hours: range, rules: Sequence[str]) -> dict[str, Any]:
    with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hgetall(keys.report_hour(hour))
        buckets = pipe.execute()
    totals: Counter[str] = Counter()
    for bucket in buckets:
        for name, value in bucket.items():
            totals[text(name)] += int(value)
    return summarize(
        totals,
        median_and_p90(redis, keys, [keys.report_hour(h) + ":tta" for h in hours]),
        median_and_p90(redis, keys, [keys.report_hour(h) + ":ttr" for h in hours]),
        since=hours.start * HOUR,
        until=hours.stop * HOUR,
        rules=rules,
    )


# KEYS[1] = scratch, KEYS[2..] = the window's sorted sets of durations. Merges them, returns the
# count and the values at the ranks the median and the p90 need, and deletes the scratch key.
_QUANTILES = """
redis.call('ZUNIONSTORE', KEYS[1], #KEYS - 1, unpack(KEYS, 2))
local n = redis.call('ZCARD', KEYS[1])
local out = {n}
if n > 0 then
  for _, rank in ipairs({math.floor((n - 1) / 2), math.floor(n / 2), math.ceil(0.9 * n) - 1}) do
    table.insert(out, redis.call('ZRANGE', KEYS[1], rank, rank, 'WITHSCORES')[2])
  end
end
redis.call('DEL', KEYS[1])
return out
"""


def median_and_p90(redis: Redis, keys: Keys, sources: list[str]) -> dict[str, float | None]:
    """The median and p90 of every duration in ``sources`` (sorted sets), computed in Redis.

    Only the values at the two or three ranks needed come back, so the cost is the merge,
    not the transfer: a week with 100,000 incidents reads three numbers (bench/report_cost.py).
    The median of an even count is the mean of the two middle values; the p90 is the
    nearest-rank value.
    """
    if not sources:
        return {"median": None, "p90": None}
    count, *values = redis.eval(_QUANTILES, 1 + len(sources), keys.report_scratch(), *sources)
    if not count:
        return {"median": None, "p90": None}
    low, high, p90 = (float(v) for v in values)
    return {"median": (low + high) / 2, "p90": p90}


def summarize(
    totals: Mapping[str, int],
    tta: Mapping[str, float | None],
    ttr: Mapping[str, float | None],
    *,
    since: float,
    until: float,
    rules: Iterable[str] = (),
) -> dict[str, Any]:
    """The report from added-up counters and the time-to-ack / time-to-resolve quantiles. Pure."""
    opened = totals.get("opened", 0)
    auto = totals.get("auto_remediated", 0)
    resolved = totals.get("resolved", 0)
    rule_names = sorted({*rules, *(k.split(":")[1] for k in totals if k.startswith("rule:"))})
    team_names = sorted({k.split(":")[1] for k in totals if k.startswith("team:")})
    return {
        "window": {"since": iso(since), "until": iso(until)},
        "incidents": {
            "opened": opened,
            "acknowledged": totals.get("acknowledged", 0),
            "resolved": resolved,
            "auto_remediated": auto,
        },
        "mtta_seconds": {"median": tta.get("median"), "p90": tta.get("p90")},
        "mttr_seconds": {"median": ttr.get("median"), "p90": ttr.get("p90")},
        "auto_remediated_share": round(auto / resolved, 4) if resolved else None,
        "rules": [_rule(name, totals) for name in rule_names],
        "teams": [{"name": name, "pages": totals.get(f"team:{name}:pages", 0)} for name in team_names],
    }


def _rule(name: str, totals: Mapping[str, int]) -> dict[str, Any]:
    facts = {fact: totals.get(f"rule:{name}:{fact}", 0) for fact in RULE_FACTS}
    steps = facts["steps_ok"] + facts["steps_failed"]
    verified = facts["verify_ok"] + facts["verify_failed"] + facts["verify_unknown"]
    return {
        "name": name,
        "incidents": facts["incidents"],
        "runs": {
            "started": facts["runs_started"],
            "completed": facts["runs_completed"],
            "failed": facts["runs_failed"],
        },
        "step_success_rate": round(facts["steps_ok"] / steps, 4) if steps else None,
        "verification": {
            "ok": facts["verify_ok"],
            "failed": facts["verify_failed"],
            "unknown": facts["verify_unknown"],
            "success_rate": round(facts["verify_ok"] / verified, 4) if verified else None,
        },
        "flapping": facts["flapping"],
        "storm": facts["storm"],
    }


def change_percent(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """How each headline figure moved against the window before, in percent (null without a base)."""

    def pct(now: float | None, before: float | None) -> float | None:
        if now is None or before is None or before == 0:
            return None
        return round((now - before) / before * 100, 1)

    out: dict[str, Any] = {
        f"incidents.{name}": pct(current["incidents"][name], previous["incidents"][name])
        for name in current["incidents"]
    }
    for figure in ("mtta_seconds", "mttr_seconds"):
        for stat in ("median", "p90"):
            out[f"{figure}.{stat}"] = pct(current[figure][stat], previous[figure][stat])
    out["auto_remediated_share"] = pct(current["auto_remediated_share"], previous["auto_remediated_share"])
    return out


def daily(redis: Redis, keys: Keys, days: int, now: float) -> list[dict[str, Any]]:
    """Incidents opened per UTC day for the last ``days`` days (today last), and how many of them
    automation fixed: the report page's chart."""
    today = int(now // 86400)
    first_hour = (today - days + 1) * 24
    with redis.pipeline(transaction=False) as pipe:
        for hour in range(first_hour, (today + 1) * 24):
            pipe.hmget(keys.report_hour(hour), ["opened", "auto_remediated"])
        counts = pipe.execute()
    out = []
    for day in range(days):
        hours = counts[day * 24 : (day + 1) * 24]
        opened = sum(int(o or 0) for o, _ in hours)
        fixed = sum(int(a or 0) for _, a in hours)
        out.append(
            {"day": iso((today - days + 1 + day) * 86400)[:10], "opened": opened, "auto_remediated": fixed}
        )
    return out
