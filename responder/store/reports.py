"""What the incident report counts, recorded as it happens, in hourly buckets.

The report (``responder report``, ``GET /api/report``) never scans incidents. Every fact it
needs is added here when it happens, to the bucket of the hour the incident *opened*, so
an incident's whole life is counted in the window it opened in:

- ``report:h:<hour>``, a hash of counters: ``opened``, ``acknowledged``, ``resolved``,
  ``auto_remediated``, ``rule:<name>:<what>`` (incidents, runs started/completed/failed,
  steps ok/failed, verifications ok/failed/unknown, flapping, storm) and
  ``team:<name>:pages``;
- ``report:h:<hour>:tta`` and ``report:h:<hour>:ttr``, sorted sets of incident id → seconds
  from open to first acknowledgement / to resolution, from which medians and p90s are read.

A week is 168 buckets; reading them costs the same with ten incidents or a hundred
thousand (bench/report.py measures it). Buckets expire after :data:`KEEP` (a year), long
after the incidents themselves are swept. Time-to-ack and time-to-resolve are also kept as
Prometheus histograms (``metrics:tta``, ``metrics:ttr``) for ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from responder.store.records import Incident, Run, RunStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.store.keys import Keys

HOUR = 3600
KEEP = 400 * 86400
"""Seconds a bucket is kept: a year of reports, and the year before for ``--compare``."""

BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
"""Histogram bounds (seconds) for time to acknowledge and to resolve: 30 s to a day."""

RULE_FACTS = (
    "incidents",
    "runs_started",
    "runs_completed",
    "runs_failed",
    "steps_ok",
    "steps_failed",
    "verify_ok",
    "verify_failed",
    "verify_unknown",
    "flapping",
    "storm",
)
"""What is counted per rule (``rule:<name>:<fact>``)."""


def hour_of(ts: float) -> int:
    return int(ts // HOUR)


def _bucket(keys: Keys, incident: Incident) -> str:
    return keys.report_hour(hour_of(incident.created_at))


def count(pipe: Pipeline | Redis, keys: Keys, incident: Incident, *fields: str, by: int = 1) -> None:
    """Add ``by`` to each counter in ``fields`` of the incident's bucket."""
    key = _bucket(keys, incident)
    for name in fields:
        pipe.hincrby(key, name, by)
    pipe.expire(key, KEEP)


def count_rule(pipe: Pipeline | Redis, keys: Keys, incident: Incident, fact: str) -> None:
    """One more ``fact`` (one of :data:`RULE_FACTS`) for the incident's rule."""
    count(pipe, keys, incident, f"rule:{incident.rule}:{fact}")


def opened(pipe: Pipeline, keys: Keys, incident: Incident) -> None:
    count(pipe, keys, incident, "opened", f"rule:{incident.rule}:incidents")


def acknowledged(pipe: Pipeline, keys: Keys, incident: Incident, at: float) -> None:
    """The first acknowledgement (the transition only happens once)."""
    seconds = max(at - incident.created_at, 0.0)
    count(pipe, keys, incident, "acknowledged")
    _sample(pipe, keys, keys.report_hour(hour_of(incident.created_at)) + ":tta", incident.id, seconds)
    _observe(pipe, keys.histogram("tta"), incident, seconds)


def resolved(pipe: Pipeline, keys: Keys, incident: Incident, at: float, *, auto_remediated: bool) -> None:
    seconds = max(at - incident.created_at, 0.0)
    fields = ["resolved", *(["auto_remediated"] if auto_remediated else [])]
    count(pipe, keys, incident, *fields)
    _sample(pipe, keys, keys.report_hour(hour_of(incident.created_at)) + ":ttr", incident.id, seconds)
    _observe(pipe, keys.histogram("ttr"), incident, seconds)
    if auto_remediated:
        pipe.incr(keys.counter("incidents_auto_remediated"))


def paged(pipe: Pipeline | Redis, keys: Keys, incident: Incident, teams: Iterable[str]) -> None:
    """Each team that was paged (at least one delivery sent) once more."""
    fields = [f"team:{team}:pages" for team in teams]
    if fields:
        count(pipe, keys, incident, *fields)


def _sample(pipe: Pipeline, keys: Keys, key: str, incident_id: str, seconds: float) -> None:
    pipe.zadd(key, {incident_id: seconds})
    pipe.expire(key, KEEP)


def _observe(pipe: Pipeline, key: str, incident: Incident, seconds: float) -> None:
    """A Prometheus histogram in one hash: ``<rule>|<severity>|<le>`` bucket counts, ``...|sum``."""
    series = f"{incident.rule}|{incident.severity}"
    for bound in BUCKETS:
        if seconds <= bound:
            pipe.hincrby(key, f"{series}|{bound:g}", 1)
    pipe.hincrby(key, f"{series}|+Inf", 1)
    pipe.hincrbyfloat(key, f"{series}|sum", seconds)


def auto_remediated(incident: Incident, runs: Iterable[Run], *, by: str, verified: bool = False) -> bool:
    """Whether an incident resolving now counts as fixed by automation.

    Verification said so; or its playbooks all completed, nobody acknowledged it, and
    Alertmanager (not a person) resolved it.
    """
    if verified:
        return True
    fired = [run for run in runs if run.trigger == "firing"]
    return (
        bool(fired)
        and all(run.status == RunStatus.COMPLETED for run in fired)
        and incident.acknowledged_by is None
        and by == "alertmanager"
    )
