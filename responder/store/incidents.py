"""Incidents in Redis: the record, its alerts, its timeline, and the index of open ones.

Keys (see :class:`responder.store.keys.Keys`): a hash per incident, a hash of its alerts
by fingerprint (each the alert's latest state as JSON), a capped list of timeline events,
a sorted set of every incident by creation time, and a hash from incident key to the id
of the open incident with that key. Writers take a pipeline so callers can make a whole
change land in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from redis.client import Pipeline

from responder.clock import parse_iso
from responder.errors import IncidentNotFound
from responder.store.codec import text
from responder.store.keys import INCIDENT_RETENTION, Keys
from responder.store.records import Alert, Event, Incident, IncidentStatus

TIMELINE_LIMIT = 2000
"""Events kept per incident; older ones are trimmed (a storm incident could otherwise grow without end)."""

STORM_MEMBERS = "storm_members"
STORM_FIRING = "storm_firing"
"""A storm incident's count of member alerts still firing: it resolves at 0. Counted, not read from
its alerts, because a storm holds thousands and each resolution would read them all."""

_TIMES = ("created_at", "updated_at", "acknowledged_at", "resolved_at")
_OPTIONAL = ("generator_url", "acknowledged_by", "resolved_by")

# Deletes the open-index entry only if it still points at this incident: a newer
# incident with the same key may already be open.
_CLOSE_KEY = (
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
    "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"
)


def _encode(incident: Incident) -> dict[Any, Any]:
    fields: dict[Any, Any] = {
        "id": incident.id,
        "key": incident.key,
        "rule": incident.rule,
        "severity": incident.severity,
        "status": incident.status.value,
        "title": incident.title,
        "summary": incident.summary,
        "labels": json.dumps(incident.labels),
        "annotations": json.dumps(incident.annotations),
        "group": json.dumps(incident.group),
    }
    for name in (*_TIMES, *_OPTIONAL):
        value = getattr(incident, name)
        if value is not None:
            fields[name] = value
    if incident.storm_members:
        fields[STORM_MEMBERS] = incident.storm_members
        fields[STORM_FIRING] = incident.storm_members
    if incident.flapping:
        fields["flapping"] = 1
    return fields


def decode(raw: dict[Any, Any]) -> Incident:
    """An incident from its hash as read (``HGETALL``, perhaps in a caller's pipeline)."""
    data = {text(k): text(v) for k, v in raw.items()}
    times = {name: float(data[name]) for name in _TIMES if data.get(name)}
    return Incident(
        id=data["id"],
        key=data["key"],
        rule=data["rule"],
        severity=data["severity"],
        status=IncidentStatus(data["status"]),
        title=data.get("title", ""),
        summary=data.get("summary", ""),
        labels=json.loads(data.get("labels") or "{}"),
        annotations=json.loads(data.get("annotations") or "{}"),
        group=json.loads(data.get("group") or "{}"),
        created_at=times["created_at"],
        updated_at=times.get("updated_at", times["created_at"]),
        acknowledged_at=times.get("acknowledged_at"),
        resolved_at=times.get("resolved_at"),
        auto_remediated=data.get("auto_remediated") == "1",
        storm_members=int(data.get(STORM_MEMBERS) or 0),
        flapping=data.get("flapping") == "1",
        **{name: data.get(name) or None for name in _OPTIONAL},
    )


def find(redis: Redis | Pipeline, keys: Keys, incident_id: str) -> Incident | None:
    raw = redis.hgetall(keys.incident(incident_id))
    return decode(raw) if raw else None


def get(redis: Redis, keys: Keys, incident_id: str) -> Incident:
    """Raises IncidentNotFound when there is no such incident."""
    incident = find(redis, keys, incident_id)
    if incident is None:
        raise IncidentNotFound(f'no incident "{incident_id}"')
    return incident


def open_id(redis: Redis, keys: Keys, incident_key: str) -> str | None:
    """The id of the open incident with this key, if any."""
    raw = redis.hget(keys.open_incidents, incident_key)
    return None if raw is None else text(raw)


def create(pipe: Pipeline, keys: Keys, incident: Incident, alert: Alert) -> None:
    """Queue the writes that create an incident with its first alert (the caller executes)."""
    pipe.hset(keys.incident(incident.id), mapping=_encode(incident))
    pipe.zadd(keys.incidents, {incident.id: incident.created_at})
    pipe.hset(keys.open_incidents, incident.key, incident.id)
    put_alert(pipe, keys, incident.id, alert)


def change_status(
    pipe: Pipeline,
    keys: Keys,
    incident: Incident,
    status: IncidentStatus,
    at: float,
    by: str,
    *,
    auto_remediated: bool = False,
) -> None:
    """Queue an acknowledgement or resolution; a resolved incident leaves the open index."""
    field = "acknowledged" if status == IncidentStatus.ACKNOWLEDGED else "resolved"
    change: dict[Any, Any] = {
        "status": status.value,
        "updated_at": at,
        f"{field}_at": at,
        f"{field}_by": by,
    }
    if auto_remediated:
        change["auto_remediated"] = 1
    pipe.hset(keys.incident(incident.id), mapping=change)
    if status == IncidentStatus.RESOLVED:
        pipe.eval(_CLOSE_KEY, 1, keys.open_incidents, incident.key, incident.id)


def touch(pipe: Pipeline, keys: Keys, incident_id: str, at: float) -> None:
    pipe.hset(keys.incident(incident_id), "updated_at", at)


def storm_member(pipe: Pipeline, keys: Keys, incident_id: str, *, firing_before: bool) -> None:
    """Queue: one more alert joined a storm incident (``firing_before``: its fingerprint was already
    a firing member, replaced by a newer firing). The first result is the new member count."""
    pipe.hincrby(keys.incident(incident_id), STORM_MEMBERS, 1)
    if not firing_before:
        pipe.hincrby(keys.incident(incident_id), STORM_FIRING, 1)


def storm_member_resolved(pipe: Pipeline, keys: Keys, incident_id: str) -> None:
    """Queue: a firing member of a storm incident resolved. The result is how many still fire."""
    pipe.hincrby(keys.incident(incident_id), STORM_FIRING, -1)


def put_alert(pipe: Pipeline, keys: Keys, incident_id: str, alert: Alert) -> None:
    pipe.hset(keys.incident_alerts(incident_id), alert.fingerprint, json.dumps(alert.to_webhook()))


def alert(redis: Redis, keys: Keys, incident_id: str, fingerprint: str) -> Alert | None:
    raw = redis.hget(keys.incident_alerts(incident_id), fingerprint)
    return None if raw is None else Alert.from_webhook(json.loads(raw))


def alerts(redis: Redis, keys: Keys, incident_id: str) -> list[Alert]:
    return [Alert.from_webhook(json.loads(v)) for v in redis.hvals(keys.incident_alerts(incident_id))]


def add_event(pipe: Pipeline | Redis, keys: Keys, incident_id: str, event: Event) -> None:
    """Append to the timeline (trimmed to the newest :data:`TIMELINE_LIMIT`)."""
    key = keys.timeline(incident_id)
    pipe.rpush(key, json.dumps(event.public(), default=str))
    pipe.ltrim(key, -TIMELINE_LIMIT, -1)


def add_events(pipe: Pipeline | Redis, keys: Keys, incident_id: str, events: list[Event]) -> None:
    """Append several entries in one push (trimmed as :func:`add_event` trims)."""
    if not events:
        return
    key = keys.timeline(incident_id)
    pipe.rpush(key, *(json.dumps(event.public(), default=str) for event in events))
    pipe.ltrim(key, -TIMELINE_LIMIT, -1)


def timeline(redis: Redis, keys: Keys, incident_id: str) -> list[Event]:
    out = []
    for raw in redis.lrange(keys.timeline(incident_id), 0, -1):
        entry = json.loads(raw)
        out.append(Event(parse_iso(entry["at"]), entry["kind"], entry["message"], entry.get("details", {})))
    return out


def listing(
    redis: Redis, keys: Keys, status: IncidentStatus | None = None, limit: int = 100
) -> list[Incident]:
    """Incidents newest first, optionally only those with ``status``."""
    out: list[Incident] = []
    start = 0
    page = max(limit, 50)
    while len(out) < limit:
        ids = [text(i) for i in redis.zrevrange(keys.incidents, start, start + page - 1)]
        if not ids:
            break
        with redis.pipeline(transaction=False) as pipe:
            for incident_id in ids:
                pipe.hgetall(keys.incident(incident_id))
            records = pipe.execute()
        out += [i for i in map(decode, filter(None, records)) if status is None or i.status == status]
        start += page
    return out[:limit]


def sweep(redis: Redis, keys: Keys, now: float) -> int:
    """Delete resolved incidents older than the retention; returns how many went."""
    cutoff = now - INCIDENT_RETENTION
    removed = 0
    for incident_id in (text(i) for i in redis.zrangebyscore(keys.incidents, 0, cutoff)):
        status = redis.hget(keys.incident(incident_id), "status")
        if status is None or text(status) == IncidentStatus.RESOLVED:
            redis.delete(
                keys.incident(incident_id),
                keys.incident_alerts(incident_id),
                keys.timeline(incident_id),
                keys.escalation(incident_id),
                keys.deliveries(incident_id),
                keys.incident_runs(incident_id),
            )
            redis.zrem(keys.incidents, incident_id)
            removed += 1
    return removed
