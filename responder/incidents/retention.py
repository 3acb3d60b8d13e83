"""Open incidents nobody will close: swept after ``RESPONDER_OPEN_RETENTION`` without activity.

An incident normally resolves when Alertmanager says its alerts resolved, or by hand. One
whose resolution never comes (an alert deleted from Prometheus, a lost webhook, a
responder that was down) would stay open, and in Redis, for ever; "every key has a TTL or
a retention sweep" (docs/operations.md). So the workers' hourly maintenance closes an open incident
(triggered or acknowledged) whose record has not changed for the retention (default 7d:
many times Alertmanager's re-send interval), through
:func:`responder.incidents.lifecycle.expire`: timers void, Slack and PagerDuty are told, the
timeline says ``incident.expired``, ``on_resolved`` playbooks do not run. It is then an
ordinary resolved incident, deleted 30 days later with the others.

"Unchanged" cannot tell a lost resolution from an alert that is still firing: Alertmanager's
re-sends of a firing alert are duplicates and change nothing. So the sweep also forgets the
dedupe keys of the closed incident's firing alerts: an alert still firing comes back with
Alertmanager's next re-send (``repeat_interval``, 4h by default) and opens a fresh incident
that pages again, while an alert that did resolve is never re-sent and stays closed.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from responder.config.durations import format_duration, parse_duration
from responder.errors import DurationError
from responder.incidents import lifecycle
from responder.store import incidents as store
from responder.store.codec import text

if TYPE_CHECKING:
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

OPEN_RETENTION = 7 * 86400.0
"""Default of ``RESPONDER_OPEN_RETENTION``."""

# Drops an open-index entry whose incident record is gone, if it still points at that id.
_DROP_DANGLING = (
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] and redis.call('EXISTS', KEYS[2]) == 0 then "
    "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"
)


def open_retention() -> float:
    """``RESPONDER_OPEN_RETENTION`` (a duration such as ``7d``), else :data:`OPEN_RETENTION`.

    A value that does not parse, or ``0``, is logged and the default used: a typo must not
    close every open incident.
    """
    raw = os.environ.get("RESPONDER_OPEN_RETENTION", "").strip()
    if not raw:
        return OPEN_RETENTION
    try:
        seconds = parse_duration(raw)
    except DurationError as exc:
        log.warning("RESPONDER_OPEN_RETENTION: %s; using %s", exc, format_duration(OPEN_RETENTION))
        return OPEN_RETENTION
    if seconds <= 0:
        log.warning("RESPONDER_OPEN_RETENTION must be more than 0; using %s", format_duration(OPEN_RETENTION))
        return OPEN_RETENTION
    return seconds


def sweep_open(rt: Runtime, retention: float | None = None) -> list[str]:
    """Close every open incident unchanged for ``retention`` seconds; returns their ids."""
    retention = open_retention() if retention is None else retention
    cutoff = rt.clock() - retention
    idle = format_duration(retention)
    closed = []
    for raw_key, raw_id in rt.redis.hscan_iter(rt.keys.open_incidents, count=500):
        incident_id = text(raw_id)
        incident = store.find(rt.redis, rt.keys, incident_id)
        if incident is None:
            rt.redis.eval(
                _DROP_DANGLING, 2, rt.keys.open_incidents, rt.keys.incident(incident_id), raw_key, raw_id
            )
            continue
        if incident.updated_at <= cutoff and lifecycle.expire(rt, incident_id, idle):
            closed.append(incident_id)
            firing = [a for a in store.alerts(rt.redis, rt.keys, incident_id) if a.firing]
            if firing:
                rt.redis.delete(*(rt.keys.dedupe(a.fingerprint, a.status.value, a.starts_at) for a in firing))
    return closed
