"""An incident's life: opened from a plan, acknowledged, resolved — each change in one transaction.

Opening writes the incident, its first alert, the timeline, the playbook runs' first
steps and the escalation timers together. Acknowledging and resolving move the status
forward only (a second click changes nothing), void the escalation token so no timer
pages afterwards, and queue the paging update (Slack edit, PagerDuty ack/resolve, email)
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from redis import WatchError

from responder.clock import iso
from responder.config.durations import format_duration
from responder.errors import IncidentNotFound
from responder.escalation import timers
from responder.incidents import verification
from responder.plan import Facts, ResponsePlan, is_storm_key, plan_resolution
from responder.plan.flapping import reason as flapping_reason
from responder.plan.storm import reason as storm_reason
from responder.playbooks.runs import start_run
from responder.scheduling import JobSpec
from responder.store import guards, reports, runs
from responder.store import incidents as store
from responder.store import verification as loops
from responder.store.records import Alert, Event, Incident, IncidentStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.config.models import Flapping, Storm
    from responder.runtime import Runtime

PAGING_UPDATE = "responder.jobs.paging_update"


def open_incident(
    rt: Runtime, plan: ResponsePlan, alert: Alert, received_at: float | None = None
) -> Incident:
    """Create the incident ``plan`` describes and start what it says: playbooks, cooldown, paging.

    A storm incident (``plan.storm``) is titled for its rule and counts ``alert`` as its first member.
    """
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        incident = queue_open(pipe, rt, plan, alert, received_at)
        pipe.execute()
    return incident


def queue_open(
    pipe: Pipeline, rt: Runtime, plan: ResponsePlan, alert: Alert, received_at: float | None = None
) -> Incident:
    """:func:`open_incident`'s writes, queued in the caller's transaction (opened with ``multi()``)."""
    now = rt.clock()
    rule, automation = plan.rule, plan.automation
    storm = plan.storm
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or alert.name
    if storm is not None:
        summary = (
            f"{storm_reason(rule.name, storm)}: {alert.name} and every later new alert of the rule "
            "join this incident; no playbook runs for them"
        )
    incident = Incident(
        id=rt.new_id(12),
        key=plan.incident_key,
        rule=rule.name,
        severity=plan.severity,
        status=IncidentStatus.TRIGGERED,
        title=f"Storm: {rule.name}" if storm is not None else alert.name,
        summary=summary,
        labels=alert.labels,
        annotations=alert.annotations,
        group=plan.group,
        created_at=now,
        updated_at=now,
        generator_url=alert.generator_url or None,
        storm_members=1 if storm is not None else 0,
        flapping=plan.flapping is not None,
    )
    keys = rt.keys
    store.create(pipe, keys, incident, alert)
    pipe.incr(keys.counter("incidents_opened"))
    reports.opened(pipe, keys, incident)
    details: dict[str, object] = {"fingerprint": alert.fingerprint}
    if received_at:
        details["received_at"] = iso(received_at)
    kind = "storm incident" if storm is not None else "incident"
    opened = f"{plan.severity} {kind} opened by {alert.name} (rule {rule.name})"
    store.add_event(pipe, keys, incident.id, Event(now, "incident.opened", opened, details))
    if storm is not None:
        _storm_started(pipe, rt, incident, alert, storm, now)
    if plan.storm_window is not None:
        member = incident.id if storm is None else f"{alert.fingerprint}:{alert.starts_at}"
        guards.count_open(pipe, keys, rule.name, member, now, plan.storm_window)
    if plan.flapping_window is not None:
        guards.count_key_open(pipe, keys, incident.key, incident.id, now, plan.flapping_window)
    if plan.flapping is not None:
        _flapping(pipe, rt, incident, plan, plan.flapping, now)
    if automation.held is not None and automation.held_kind != "automation.suspended":
        held = f"playbooks not run: {automation.held} ({', '.join(automation.playbooks)})"
        details = {"playbooks": list(automation.playbooks)}
        store.add_event(
            pipe, keys, incident.id, Event(now, automation.held_kind or "playbook.held", held, details)
        )
    run_ids = []
    if automation.runs:
        for name in automation.playbooks:
            run_ids.append(
                start_run(
                    pipe,
                    rt,
                    rt.config.playbooks[name],
                    incident,
                    alert,
                    trigger="firing",
                    dry_run=automation.dry_run,
                    now=now,
                    confirm=automation.confirm,
                )
            )
        guards.start_cooldown(pipe, keys, incident.key, plan.cooldown, now)
    hold = plan.hold_pages and bool(plan.pages)
    if plan.verify is not None:
        verification.begin(
            pipe, rt, incident, plan.verify, run_ids, list(automation.playbooks), held=hold, now=now
        )
    if plan.pages:
        timers.start(pipe, rt, incident.id, rule, now, hold=hold)
    return incident


def _flapping(
    pipe: Pipeline, rt: Runtime, incident: Incident, plan: ResponsePlan, limit: Flapping, now: float
) -> None:
    """Record a flapping open: automation suspended, with the open history; counted for the report."""
    guards.mark_flapping(pipe, rt.keys, incident.key, now, limit.per)
    opens = [*plan.key_opens, now]
    suspended = plan.automation.held_kind == "automation.suspended"
    names = plan.automation.playbooks if suspended else ()
    what = f"playbooks not run ({', '.join(names)})" if names else "no playbooks suspended"
    message = (
        f"automation suspended: the incident key is flapping ({flapping_reason(limit, len(opens))}): "
        f"{what}; level 1 is paged at once. Opens within {format_duration(limit.per)}: "
        + ", ".join(iso(at) for at in opens)
    )
    details = {
        "opens": [iso(at) for at in opens],
        "max_opens": limit.max_opens,
        "per": format_duration(limit.per),
        "playbooks": list(names),
    }
    store.add_event(pipe, rt.keys, incident.id, Event(now, "automation.suspended", message, details))
    reports.count_rule(pipe, rt.keys, incident, "flapping")


def _storm_started(
    pipe: Pipeline, rt: Runtime, incident: Incident, alert: Alert, storm: Storm, now: float
) -> None:
    message = (
        f"storm: {storm_reason(incident.rule, storm)}; this alert and every later new one of the rule "
        "join this incident, which pages once on the rule's escalation, and no playbook runs for them"
    )
    details = {"max_incidents": storm.max_incidents, "per": format_duration(storm.per)}
    store.add_event(pipe, rt.keys, incident.id, Event(now, "storm.started", message, details))
    reports.count_rule(pipe, rt.keys, incident, "storm")
    first = f"alert {alert.name} joined the storm (member 1)"
    store.add_event(
        pipe,
        rt.keys,
        incident.id,
        Event(now, "storm.member", first, {"fingerprint": alert.fingerprint, "members": 1}),
    )


def acknowledge(rt: Runtime, incident_id: str, by: str, *, details: Mapping[str, Any] | None = None) -> bool:
    """Stop escalation for good. Returns False when it was not triggered (already acked or resolved).

    ``details`` go into the timeline entry beside ``by`` (the Slack user id of a click).
    """
    return _transition(
        rt,
        incident_id,
        {IncidentStatus.TRIGGERED},
        IncidentStatus.ACKNOWLEDGED,
        by,
        f"acknowledged by {by}",
        details=details,
    )


def resolve(
    rt: Runtime,
    incident_id: str,
    by: str,
    reason: str = "resolved by hand",
    *,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Resolve; runs ``on_resolved`` playbooks once. False when already resolved.

    Raises:
        IncidentNotFound: no such incident.
    """
    incident = store.get(rt.redis, rt.keys, incident_id)
    rule = rt.config.rule(incident.rule)
    storm = is_storm_key(incident.key)
    # A storm's thousands of members are not read: its on_resolved playbooks do not run anyway.
    alerts = store.alerts(rt.redis, rt.keys, incident_id) if not storm else []

    def on_resolved(pipe: Pipeline, now: float) -> None:
        if rule is None or not (alerts or storm):
            return
        paused = guards.is_paused(rt.redis, rt.keys)
        confirmed = rule.automation != "confirm" or any(
            run.trigger == "firing" and 0 in run.approved
            for run in runs.of_incident(rt.redis, rt.keys, incident_id)
        )
        automation = plan_resolution(rt.config, rule, Facts(paused=paused), storm=storm, confirmed=confirmed)
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
                    incident,
                    alerts[0],
                    trigger="resolved",
                    dry_run=automation.dry_run,
                    now=now,
                )

    message = (
        f"resolved: {reason}"
        if by == "alertmanager"
        else f"resolved by {by}" + (f" ({reason})" if reason else "")
    )
    allowed = {IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED}
    return _transition(
        rt, incident_id, allowed, IncidentStatus.RESOLVED, by, message, on_resolved, details=details
    )


EXPIRED_BY = "retention"


def expire(rt: Runtime, incident_id: str, idle: str) -> bool:
    """Close an open incident that nothing has happened to for ``idle`` (the open-incident retention).

    Resolved like a hand resolution (timers void, Slack and PagerDuty updated, the incident
    leaves the open index so the next alert with its key opens a fresh one), recorded as
    ``incident.expired``; ``on_resolved`` playbooks do NOT run: they undo a remediation, and
    nobody saw the problem end. False when it was no longer open.
    """
    message = f"closed by retention: nothing happened to this open incident for {idle}; on_resolved not run"
    allowed = {IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED}
    return _transition(
        rt, incident_id, allowed, IncidentStatus.RESOLVED, EXPIRED_BY, message, event_kind="incident.expired"
    )


def _transition(
    rt: Runtime,
    incident_id: str,
    allowed: set[IncidentStatus],
    target: IncidentStatus,
    by: str,
    message: str,
    also: Callable[[Pipeline, float], None] | None = None,
    *,
    details: Mapping[str, Any] | None = None,
    event_kind: str | None = None,
) -> bool:
    keys = rt.keys
    resolving = target == IncidentStatus.RESOLVED
    with rt.redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.incident(incident_id), keys.verification(incident_id))
                incident = store.find(pipe, keys, incident_id)
                if incident is None:
                    raise IncidentNotFound(f'no incident "{incident_id}"')
                if incident.status not in allowed:
                    return False
                now = rt.clock()
                loop = loops.load(pipe, keys, incident_id) if resolving else None
                verified = loop is not None and (
                    loop.verified or verification.verified_by_resolution(loop, by)
                )
                automated = resolving and reports.auto_remediated(
                    incident, runs.of_incident(rt.redis, keys, incident_id), by=by, verified=verified
                )
                pipe.multi()
                if loop is not None:
                    verification.close(pipe, rt, incident, loop, by, now)
                store.change_status(pipe, keys, incident, target, now, by, auto_remediated=automated)
                if target == IncidentStatus.ACKNOWLEDGED:
                    reports.acknowledged(pipe, keys, incident, now)
                else:
                    reports.resolved(pipe, keys, incident, now, auto_remediated=automated)
                timers.void(pipe, keys, incident_id)
                recorded = event_kind or f"incident.{target.value}"
                event = Event(now, recorded, message, {"by": by, **(details or {})})
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
