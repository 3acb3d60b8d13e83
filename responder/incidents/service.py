"""From a webhook batch to incidents: open, join, resolve, acknowledge.

Every change to an incident happens under its key's lock and lands in one Redis
transaction, so a worker that dies half-way leaves nothing half-done and the retried
job finds each alert either fully applied (and skips it) or not at all.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from redis import WatchError

from responder import safety
from responder.config.durations import format_duration
from responder.errors import IncidentNotFound
from responder.escalation import timers
from responder.playbooks import runner
from responder.rules.routing import CompiledRule, describe_group, incident_key, route
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.incidents import Status
from responder.store.keys import DEDUPE_TTL

if TYPE_CHECKING:
    from responder.config.models import Rule
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

UNMATCHED_KEEP = 1000
PAGING_UPDATE = "responder.jobs.paging_update"


def process_batch(runtime: Runtime, batch_id: str) -> dict[str, int]:
    """Apply every alert the webhook accepted in one request, then drop the batch."""
    redis, keys = runtime.redis, runtime.keys
    counts = {"alerts": 0, "unmatched": 0}
    for raw in redis.lrange(keys.batch(batch_id), 0, -1):
        item = json.loads(raw)
        counts["alerts"] += 1
        if not handle_alert(runtime, item["alert"], item.get("groupKey", ""), item.get("receivedAt")):
            counts["unmatched"] += 1
    redis.delete(keys.batch(batch_id))
    return counts


def handle_alert(
    runtime: Runtime, alert: dict[str, Any], group_key: str, received_at: float | None = None
) -> bool:
    """Route one alert; returns False when no rule matched (it is then recorded as unmatched)."""
    labels = alert.get("labels") or {}
    matched = route(runtime.rules, labels)
    if not matched:
        _record_unmatched(runtime, alert)
        return False
    for compiled in matched:
        key = incident_key(compiled.rule, labels, group_key)
        with runtime.redis.lock(runtime.keys.incident_lock(key), timeout=60, blocking_timeout=60):
            if alert.get("status") == "resolved":
                _resolve_alert(runtime, key, alert)
            else:
                _fire(runtime, compiled, key, alert, group_key, received_at)
    return True


def _record_unmatched(runtime: Runtime, alert: dict[str, Any]) -> None:
    keys = runtime.keys
    entry = {
        "at": store.iso(runtime.clock()),
        "status": alert.get("status"),
        "labels": alert.get("labels"),
        "fingerprint": alert.get("fingerprint"),
    }
    with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.lpush(keys.unmatched, json.dumps(entry))
        pipe.ltrim(keys.unmatched, 0, UNMATCHED_KEEP - 1)
        pipe.incr(keys.counter("alerts_unmatched"))
        pipe.execute()
    log.info("alert matched no rule: %r", alert.get("labels", {}).get("alertname"))


def _alert_state(alert: dict[str, Any]) -> str:
    keep = {
        k: alert.get(k)
        for k in ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint")
    }
    return json.dumps(keep)


def _fire(
    runtime: Runtime,
    compiled: CompiledRule,
    key: str,
    alert: dict[str, Any],
    group_key: str,
    received_at: float | None,
) -> None:
    redis, keys, rule = runtime.redis, runtime.keys, compiled.rule
    fingerprint, starts_at = alert.get("fingerprint", ""), alert.get("startsAt", "")
    if redis.exists(keys.resolved_early(fingerprint, starts_at)):
        return  # its resolution overtook it: the alert is already over
    now = runtime.clock()
    open_id = redis.hget(keys.open_incidents, key)
    if open_id is not None:
        incident_id = text(open_id)
        previous = redis.hget(keys.incident_alerts(incident_id), fingerprint)
        if previous is not None:
            old = json.loads(previous)
            if old.get("status") == "firing" and old.get("startsAt") == starts_at:
                return  # already applied (a retried job)
        with redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.incident_alerts(incident_id), fingerprint, _alert_state(alert))
            pipe.hset(keys.incident(incident_id), "updated_at", now)
            store.add_event(
                pipe,
                keys,
                incident_id,
                "alert.received",
                f"alert {_name(alert)} joined the incident",
                at=now,
                fingerprint=fingerprint,
            )
            pipe.execute()
        return
    _open(runtime, rule, key, alert, group_key, now, received_at)


def _name(alert: dict[str, Any]) -> str:
    labels = alert.get("labels") or {}
    return str(labels.get("alertname") or alert.get("fingerprint") or "alert")


def _open(
    runtime: Runtime,
    rule: Rule,
    key: str,
    alert: dict[str, Any],
    group_key: str,
    now: float,
    received_at: float | None,
) -> None:
    redis, keys, config = runtime.redis, runtime.keys, runtime.config
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    severity = rule.severity or _severity(labels.get("severity"))
    incident_id = uuid.uuid4().hex[:12]
    record = {
        "id": incident_id,
        "key": key,
        "rule": rule.name,
        "severity": severity,
        "status": Status.TRIGGERED.value,
        "title": _name(alert),
        "summary": annotations.get("summary") or annotations.get("description") or _name(alert),
        "labels": labels,
        "group": describe_group(rule, labels, group_key),
        "generator_url": alert.get("generatorURL") or None,
        "created_at": now,
        "updated_at": now,
    }
    cooldown_left = safety.in_cooldown(redis, keys, key)
    dry_run = rule.dry_run or config.responder.safety.dry_run
    levels = config.responder.escalation_policies.get(rule.escalation.policy) or []
    with redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        store.create(pipe, keys, record)
        pipe.hset(keys.incident_alerts(incident_id), alert.get("fingerprint", ""), _alert_state(alert))
        pipe.incr(keys.counter("incidents_opened"))
        detail = {"fingerprint": alert.get("fingerprint")}
        if received_at:
            detail["received_at"] = store.iso(received_at)
        store.add_event(
            pipe,
            keys,
            incident_id,
            "incident.opened",
            f"{severity} incident opened by {_name(alert)} (rule {rule.name})",
            at=now,
            **detail,
        )
        if rule.playbooks and cooldown_left > 0:
            store.add_event(
                pipe,
                keys,
                incident_id,
                "playbook.cooldown",
                f"playbooks not run: incident key in cooldown for {format_duration(round(cooldown_left))}",
                at=now,
            )
        elif rule.playbooks and safety.is_paused(redis, keys):
            store.add_event(
                pipe,
                keys,
                incident_id,
                "playbook.paused",
                f"playbooks not run: automation is paused ({', '.join(rule.playbooks)})",
                at=now,
            )
        else:
            for name in rule.playbooks:
                runner.start_run(
                    pipe,
                    runtime.queue,
                    keys,
                    config.playbooks[name],
                    incident_id,
                    alert,
                    trigger="firing",
                    dry_run=dry_run,
                    now=now,
                )
            safety.start_cooldown(pipe, keys, key, rule.cooldown)
        if rule.notify and levels:
            timers.start(pipe, runtime.queue, keys, incident_id, rule, levels, now)
        pipe.execute()


def _severity(label: str | None) -> str:
    mapping = {
        "critical": "critical",
        "page": "critical",
        "error": "high",
        "high": "high",
        "warning": "medium",
        "medium": "medium",
        "info": "low",
        "low": "low",
    }
    return mapping.get((label or "").lower(), "high")


def _resolve_alert(runtime: Runtime, key: str, alert: dict[str, Any]) -> None:
    redis, keys = runtime.redis, runtime.keys
    fingerprint, starts_at = alert.get("fingerprint", ""), alert.get("startsAt", "")
    open_id = redis.hget(keys.open_incidents, key)
    previous = None if open_id is None else redis.hget(keys.incident_alerts(text(open_id)), fingerprint)
    if previous is None or json.loads(previous).get("startsAt") != starts_at:
        # Resolved before we saw it fire (reordered delivery): remember, so a late firing is ignored.
        redis.set(keys.resolved_early(fingerprint, starts_at), 1, ex=DEDUPE_TTL)
        return
    assert open_id is not None
    incident_id = text(open_id)
    if json.loads(previous).get("status") == "resolved":
        return
    now = runtime.clock()
    with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.incident_alerts(incident_id), fingerprint, _alert_state(alert))
        store.add_event(
            pipe,
            keys,
            incident_id,
            "alert.resolved",
            f"alert {_name(alert)} resolved",
            at=now,
            fingerprint=fingerprint,
        )
        pipe.execute()
    states = [json.loads(v).get("status") for v in redis.hvals(keys.incident_alerts(incident_id))]
    if all(s == "resolved" for s in states):
        resolve(runtime, incident_id, by="alertmanager", reason="all alerts resolved")


def acknowledge(runtime: Runtime, incident_id: str, by: str) -> bool:
    """Stop escalation for good. Returns False when it was not triggered (already acked or resolved)."""
    changed = _transition(
        runtime, incident_id, {Status.TRIGGERED}, Status.ACKNOWLEDGED, by, f"acknowledged by {by}"
    )
    if changed:
        runtime.queue.enqueue_call(PAGING_UPDATE, args=(incident_id, "ack", by), result_ttl=600)
    return changed


def resolve(runtime: Runtime, incident_id: str, by: str, reason: str = "resolved by hand") -> bool:
    """Resolve; runs ``on_resolved`` playbooks once. False when already resolved."""
    incident = store.get(runtime.redis, runtime.keys, incident_id)
    rule = next((r for r in runtime.config.rules if r.name == incident.get("rule")), None)
    alert = _first_alert(runtime, incident_id)

    def extra(pipe: Any) -> None:
        if rule is None or not rule.on_resolved:
            return
        if safety.is_paused(runtime.redis, runtime.keys):
            store.add_event(
                pipe,
                runtime.keys,
                incident_id,
                "playbook.paused",
                f"on_resolved playbooks not run: automation is paused ({', '.join(rule.on_resolved)})",
            )
            return
        dry_run = rule.dry_run or runtime.config.responder.safety.dry_run
        for name in rule.on_resolved:
            playbook = runtime.config.playbooks.get(name)
            if playbook is not None:
                runner.start_run(
                    pipe,
                    runtime.queue,
                    runtime.keys,
                    playbook,
                    incident_id,
                    alert,
                    trigger="resolved",
                    dry_run=dry_run,
                    now=runtime.clock(),
                )

    if by == "alertmanager":
        text = f"resolved: {reason}"
    else:
        text = f"resolved by {by}" + (f" ({reason})" if reason else "")
    changed = _transition(
        runtime, incident_id, {Status.TRIGGERED, Status.ACKNOWLEDGED}, Status.RESOLVED, by, text, extra
    )
    if changed:
        runtime.queue.enqueue_call(PAGING_UPDATE, args=(incident_id, "resolve", by), result_ttl=600)
    return changed


def _first_alert(runtime: Runtime, incident_id: str) -> dict[str, Any]:
    values = runtime.redis.hvals(runtime.keys.incident_alerts(incident_id))
    return json.loads(values[0]) if values else {}


def _transition(
    runtime: Runtime,
    incident_id: str,
    allowed: set[Status],
    target: Status,
    by: str,
    message: str,
    extra: Any = None,
) -> bool:
    redis, keys = runtime.redis, runtime.keys
    inc_key = keys.incident(incident_id)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(inc_key)
                raw = pipe.hgetall(inc_key)
                if not raw:
                    raise IncidentNotFound(f'no incident "{incident_id}"')
                status = text(raw[b"status"])
                if status not in {s.value for s in allowed}:
                    return False
                now = runtime.clock()
                field = "acknowledged" if target == Status.ACKNOWLEDGED else "resolved"
                pipe.multi()
                pipe.hset(
                    inc_key,
                    mapping={
                        "status": target.value,
                        "updated_at": now,
                        f"{field}_at": now,
                        f"{field}_by": by,
                    },
                )
                timers.void(pipe, keys, incident_id)
                if target == Status.RESOLVED:
                    key = text(raw[b"key"])
                    # Only this incident's entry: a newer incident with the same key stays open.
                    pipe.eval(
                        "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
                        "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
                        1,
                        keys.open_incidents,
                        key,
                        incident_id,
                    )
                store.add_event(pipe, keys, incident_id, f"incident.{target.value}", message, at=now, by=by)
                if extra is not None:
                    extra(pipe)
                pipe.execute()
                return True
            except WatchError:
                continue
