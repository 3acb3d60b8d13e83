"""The dead man's switch: when the heartbeat alert stops arriving, the alerting pipeline is broken.

Prometheus fires ``Watchdog`` all the time and Alertmanager re-sends it every
``repeat_interval``. The web process notes each receipt (:func:`note_receipt`, duplicates
included: a re-send is exactly the sign of life wanted). A check job in the control lane
(:func:`check`, ``jobs.heartbeat_check``) compares the last receipt with ``missing_after``
(counted from the responder's first start when nothing was ever received): past it, an
incident of rule ``heartbeat`` titled "alerting pipeline silent" opens and pages on
``heartbeat.policy`` through ``heartbeat.notify``; when receipts resume, it resolves. The
check schedules its own next run; the workers' maintenance starts it again if it was lost.
Several workers may run checks at once: the incident opens under its key's lock, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from responder.clock import iso
from responder.config.models import Heartbeat
from responder.incidents import lifecycle
from responder.plan import Facts, plan_alert
from responder.routing.matchers import Matcher, parse_matcher
from responder.scheduling import JobSpec, Lane
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.records import Alert, AlertStatus

if TYPE_CHECKING:
    from redis import Redis

    from responder.runtime import Runtime
    from responder.store.keys import Keys

log = logging.getLogger(__name__)

CHECK = "responder.jobs.heartbeat_check"
TITLE = "alerting pipeline silent"
GROUP = "heartbeat"
"""The incident's group (there is one heartbeat, so one incident key)."""
WHILE_SILENT = 30.0
"""Seconds between checks while the heartbeat is missing: how soon its return resolves the incident."""
LOST_AFTER = 60.0
"""A check overdue by this much was lost (a Redis crash); the workers' maintenance schedules another."""


@lru_cache(maxsize=8)
def _compiled(matchers: tuple[str, ...]) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(m) for m in matchers)


def matches(heartbeat: Heartbeat | None, labels: Mapping[str, str]) -> bool:
    """Whether an alert with ``labels`` is the heartbeat."""
    if heartbeat is None:
        return False
    return all(m.matches(labels) for m in _compiled(tuple(heartbeat.matchers)))


def note_receipt(rt: Runtime, alerts: Iterable[Mapping[str, Any]], now: float) -> bool:
    """Record that the heartbeat arrived, if one of ``alerts`` (webhook alert objects) is it."""
    heartbeat = rt.config.responder.heartbeat
    if heartbeat is None:
        return False
    if not any(a.get("status") == "firing" and matches(heartbeat, a.get("labels") or {}) for a in alerts):
        return False
    rt.redis.set(rt.keys.heartbeat_last, now)
    return True


def _float(raw: bytes | str | None) -> float | None:
    return float(text(raw)) if raw is not None else None


def silent_since(redis: Redis, keys: Keys, now: float) -> float:
    """When the last heartbeat came, or when this responder first looked (the count starts there)."""
    redis.set(keys.heartbeat_started, now, nx=True)
    last, started = redis.mget([keys.heartbeat_last, keys.heartbeat_started])
    return max(_float(last) or 0.0, _float(started) or now)


def check(rt: Runtime) -> str:
    """Open the "alerting pipeline silent" incident, resolve it, or do nothing; schedule the next check."""
    heartbeat = rt.config.responder.heartbeat
    if heartbeat is None:
        return "no heartbeat configured"
    now = rt.clock()
    since = silent_since(rt.redis, rt.keys, now)
    silent = now - since >= heartbeat.missing_after
    rule = rt.config.heartbeat_rule()
    assert rule is not None
    outcome = "heartbeat fresh"
    key_plan = plan_alert(rt.config, rule, {}, GROUP, Facts())
    with rt.redis.lock(rt.keys.incident_lock(key_plan.incident_key), timeout=60, blocking_timeout=60):
        open_id = store.open_id(rt.redis, rt.keys, key_plan.incident_key)
        if silent and open_id is None:
            alert = Alert(
                status=AlertStatus.FIRING,
                labels={"alertname": TITLE},
                annotations={
                    "summary": f"no heartbeat alert ({', '.join(heartbeat.matchers)}) since {iso(since)}: "
                    "alerts may not be reaching the responder (Prometheus, Alertmanager or the route)"
                },
                starts_at=iso(since),
                ends_at="",
                generator_url="",
                fingerprint="heartbeat",
            )
            incident = lifecycle.open_incident(rt, key_plan, alert)
            log.warning("heartbeat missing since %s: opened incident %s", iso(since), incident.id)
            outcome = f"opened {incident.id}"
        elif not silent and open_id is not None:
            lifecycle.resolve(rt, open_id, by="heartbeat", reason="the heartbeat is back")
            outcome = f"resolved {open_id}"
        elif silent:
            outcome = "still silent"
    next_at = now + WHILE_SILENT if silent else max(since + heartbeat.missing_after, now + 1.0)
    schedule(rt, next_at)
    return outcome


def schedule(rt: Runtime, at: float) -> None:
    """The next check at ``at`` (a job of its own per time, so a finishing check never removes the next)."""
    spec = JobSpec(
        CHECK, (), job_id=f"{rt.keys.prefix}-heartbeat-{int(at)}", result_ttl=60, lane=Lane.CONTROL
    )
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        rt.scheduler.enqueue_at(spec, at, pipeline=pipe)
        pipe.set(rt.keys.heartbeat_next, at)
        pipe.execute()


def ensure_check(rt: Runtime) -> bool:
    """Schedule a check when none is due (the first start, or one lost with Redis); True if it did."""
    if rt.config.responder.heartbeat is None:
        return False
    due = _float(rt.redis.get(rt.keys.heartbeat_next))
    now = rt.clock()
    if due is not None and due > now - LOST_AFTER:
        return False
    schedule(rt, now)
    return True
