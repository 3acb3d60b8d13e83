"""An incident's life: opened from a plan, acknowledged, resolved — each change in one transaction.

Opening writes the incident, its first alert, the timeline, the playbook runs' first
steps and the escalation timers together. Acknowledging and resolving move the status
forward only (a second click changes nothing), void the escalation token so no timer
pages afterwards, and queue the paging update (Slack edit, PagerDuty ack/resolve, email)
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from redis import WatchError

from responder.clock import iso
from responder.errors import IncidentNotFound
from responder.escalation import timers
from responder.plan import Facts, ResponsePlan, plan_resolution
from responder.playbooks.runs import start_run
from responder.scheduling import JobSpec
from responder.store import guards
from responder.store import incidents as store
from responder.store.records import Alert, Event, Incident, IncidentStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.runtime import Runtime

PAGING_UPDATE = "responder.jobs.paging_update"


def open_incident(
    rt: Runtime, plan: ResponsePlan, alert: Alert, received_at: float | None = None
) -> Incident:
    """Create the incident ``plan`` describes and start what it says: playbooks, cooldown, paging."""
    now = rt.clock()
    rule, automation = plan.rule, plan.automation
    incident = Incident(
        id=rt.new_id(12),
        key=plan.incident_key,
        rule=rule.name,
        severity=plan.severity,
        status=IncidentStatus.TRIGGERED,
        title=alert.name,
        summary=alert.annotations.get("summary") or alert.annotations.get("description") or alert.name,
        labels=alert.labels,
        annotations=alert.annotations,
        group=plan.group,
        created_at=now,
        updated_at=now,
        generator_url=alert.generator_url or None,
    )
    keys = rt.keys
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        store.create(pipe, keys, incident, alert)
        pipe.incr(keys.counter("incidents_opened"))
        details: dict[str, object] = {"fingerprint": alert.fingerprint}
        if received_at:
            details["received_at"] = iso(received_at)
        opened = f"{plan.severity} incident opened by {alert.name} (rule {rule.name})"
        store.add_event(pipe, keys, incident.id, Event(now, "incident.opened", opened, details))
        if automation.held is not None:
            held = f"playbooks not run: {automation.held} ({', '.join(automation.playbooks)})"
            store.add_event(
                pipe, keys, incident.id, Event(now, automation.held_kind or "playbook.held", held)
            )
        elif automation.runs:
            for name in automation.playbooks:
                start_run(
                    pipe,
                    rt,
                    rt.config.playbooks[name],
                    incident.id,
                    alert,
                    trigger="firing",
                    dry_run=automation.dry_run,
                    now=now,
                    severity=plan.severity,
                )
            guards.start_cooldown(pipe, keys, incident.key, plan.cooldown, now)
        if plan.pages:
            timers.start(pipe, rt, incident.id, rule, now)
        pipe.execute()
    return incident


def acknowledge(rt: Runtime, incident_id: str, by: str) -> bool:
    """Stop escalation for good. Returns False when it was not triggered (already acked or resolved)."""
    return _transition(
        rt, incident_id, {IncidentStatus.TRIGGERED}, IncidentStatus.ACKNOWLEDGED, by, f"acknowledged by {by}"
    )


def resolve(rt: Runtime, incident_id: str, by: str, reason: str = "resolved by hand") -> bool:
    """Resolve; runs ``on_resolved`` playbooks once. False when already resolved.

    Raises:
        IncidentNotFound: no such incident.
    """
    incident = store.get(rt.redis, rt.keys, incident_id)
    rule = rt.config.rule(incident.rule)
    alerts = store.alerts(rt.redis, rt.keys, incident_id)

    def on_resolved(pipe: Pipeline, now: float) -> None:
        if rule is None or not alerts:
            return
        automation = plan_resolution(rt.config, rule, Facts(paused=guards.is_paused(rt.redis, rt.keys)))
        if automation.held is not None:
            held = f"on_resolved playbooks not run: {automation.held} ({', '.join(automation.playbooks)})"
            store.add_event(
                pipe, rt.keys, incident_id, Event(now, automation.held_kind or "playbook.held", held)
            )
            return
        for name in automation.playbooks:
            playbook = rt.config.playbooks.get(name)
            if playbook is not None:
                start_run(
                    pipe,
                    rt,
                    playbook,
                    incident_id,
                    alerts[0],
                    trigger="resolved",
                    dry_run=automation.dry_run,
                    now=now,
                    severity=incident.severity,
                )

    message = (
        f"resolved: {reason}"
        if by == "alertmanager"
        else f"resolved by {by}" + (f" ({reason})" if reason else "")
    )
    allowed = {IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED}
    return _transition(rt, incident_id, allowed, IncidentStatus.RESOLVED, by, message, on_resolved)


def _transition(
    rt: Runtime,
    incident_id: str,
    allowed: set[IncidentStatus],
    target: IncidentStatus,
    by: str,
    message: str,
    also: Callable[[Pipeline, float], None] | None = None,
) -> bool:
    keys = rt.keys
    with rt.redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.incident(incident_id))
                incident = store.find(pipe, keys, incident_id)
                if incident is None:
                    raise IncidentNotFound(f'no incident "{incident_id}"')
                if incident.status not in allowed:
                    return False
                now = rt.clock()
                pipe.multi()
                store.change_status(pipe, keys, incident, target, now, by)
                timers.void(pipe, keys, incident_id)
                event = Event(now, f"incident.{target.value}", message, {"by": by})
                store.add_event(pipe, keys, incident_id, event)
                if also is not None:
                    also(pipe, now)
                kind = "ack" if target == IncidentStatus.ACKNOWLEDGED else "resolve"
                update = JobSpec(PAGING_UPDATE, (incident_id, kind, by), result_ttl=600)
                rt.scheduler.enqueue(update, pipeline=pipe)
                pipe.execute()
                return True
            except WatchError:
                continue
