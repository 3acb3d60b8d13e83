"""Incident records and their timelines in Redis."""

from __future__ import annotations

import enum
import json
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline

from responder.errors import IncidentNotFound
from responder.store.codec import text
from responder.store.keys import INCIDENT_RETENTION, Keys

TIMELINE_LIMIT = 2000


class Status(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decode(raw: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        key = k.decode() if isinstance(k, bytes) else k
        out[key] = v.decode() if isinstance(v, bytes) else v
    for name in ("labels", "group"):
        if name in out:
            out[name] = json.loads(out[name])
    for name in ("created_at", "updated_at", "acknowledged_at", "resolved_at"):
        if out.get(name):
            out[name] = float(out[name])
    return out


def get(redis: Redis, keys: Keys, incident_id: str) -> dict[str, Any]:
    """Raises IncidentNotFound when there is no such incident."""
    raw = redis.hgetall(keys.incident(incident_id))
    if not raw:
        raise IncidentNotFound(f'no incident "{incident_id}"')
    return _decode(raw)


def create(pipe: Pipeline, keys: Keys, record: dict[str, Any]) -> None:
    """Queue the writes that create an incident (the caller executes the transaction)."""
    stored: dict[Any, Any] = {
        k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in record.items() if v is not None
    }
    pipe.hset(keys.incident(record["id"]), mapping=stored)
    pipe.zadd(keys.incidents, {record["id"]: record["created_at"]})
    pipe.hset(keys.open_incidents, record["key"], record["id"])


def add_event(
    pipe: Pipeline | Redis,
    keys: Keys,
    incident_id: str,
    kind: str,
    message: str,
    at: float | None = None,
    **details: Any,
) -> None:
    """Append to the timeline. ``details`` must already be free of secrets."""
    entry: dict[str, Any] = {
        "at": iso(at if at is not None else time.time()),
        "kind": kind,
        "message": message,
    }
    if details:
        entry["details"] = details
    key = keys.timeline(incident_id)
    pipe.rpush(key, json.dumps(entry, default=str))
    pipe.ltrim(key, -TIMELINE_LIMIT, -1)


def timeline(redis: Redis, keys: Keys, incident_id: str) -> list[dict[str, Any]]:
    return [json.loads(e) for e in redis.lrange(keys.timeline(incident_id), 0, -1)]


def alerts(redis: Redis, keys: Keys, incident_id: str) -> list[dict[str, Any]]:
    return [json.loads(v) for v in redis.hgetall(keys.incident_alerts(incident_id)).values()]


def listing(redis: Redis, keys: Keys, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Incidents newest first, optionally only those with ``status``."""
    out: list[dict[str, Any]] = []
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
        for raw in records:
            if raw:
                record = _decode(raw)
                if status is None or record.get("status") == status:
                    out.append(record)
        start += page
    return out[:limit]


def sweep(redis: Redis, keys: Keys, now: float | None = None) -> int:
    """Delete resolved incidents older than the retention; returns how many went."""
    cutoff = (now or time.time()) - INCIDENT_RETENTION
    old = [text(i) for i in redis.zrangebyscore(keys.incidents, 0, cutoff)]
    removed = 0
    for incident_id in old:
        if redis.hget(keys.incident(incident_id), "status") in (b"resolved", None):
            redis.delete(
                keys.incident(incident_id),
                keys.incident_alerts(incident_id),
                keys.timeline(incident_id),
                keys.escalation(incident_id),
                keys.deliveries(incident_id),
            )
            redis.zrem(keys.incidents, incident_id)
            removed += 1
    return removed
