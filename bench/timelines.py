"""Reading what the responder recorded: incidents and their timelines, straight from Redis.

The timelines carry the instants every benchmark needs: ``incident.opened``
with the webhook's ``received_at``, ``step.ok`` at the step's end with its ``seconds``,
``escalation.level`` with its ``level``. Key names come from ``responder.store.keys``, so
the layout stays defined in one place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from bench.stats import epoch
from responder.scheduling import queue_names
from responder.store.keys import Keys


@dataclass
class Incident:
    id: str
    record: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def at(self, kind: str) -> float | None:
        found = self.of(kind)
        return epoch(found[0]["at"]) if found else None

    @property
    def instance(self) -> str:
        return str(json.loads(self.record.get("labels", "{}")).get("instance", ""))


def incidents(redis: Redis, prefix: str) -> list[Incident]:
    """Every incident of ``prefix`` with its timeline (pipelined, in pages)."""
    keys = Keys(prefix)
    ids = [i.decode() for i in redis.zrange(keys.incidents, 0, -1)]
    out: list[Incident] = []
    for start in range(0, len(ids), 500):
        page = ids[start : start + 500]
        with redis.pipeline(transaction=False) as pipe:
            for incident_id in page:
                pipe.hgetall(keys.incident(incident_id))
                pipe.lrange(keys.timeline(incident_id), 0, -1)
            raw = pipe.execute()
        for i, incident_id in enumerate(page):
            record = {k.decode(): v.decode() for k, v in raw[2 * i].items()}
            events = [json.loads(e) for e in raw[2 * i + 1]]
            out.append(Incident(incident_id, record, events))
    return out


def counter(redis: Redis, prefix: str, name: str) -> int:
    raw = redis.get(Keys(prefix).counter(name))
    return int(raw) if raw else 0


@dataclass
class QueueState:
    queued: int
    started: int
    scheduled: int

    @property
    def idle(self) -> bool:
        return self.queued == 0 and self.started == 0


def queue_state(redis: Redis, prefix: str) -> QueueState:
    queues = [Queue(name, connection=redis) for name in queue_names(Keys(prefix))]
    return QueueState(
        sum(queue.count for queue in queues),
        sum(StartedJobRegistry(queue=queue).count for queue in queues),
        sum(ScheduledJobRegistry(queue=queue).count for queue in queues),
    )


def wait_idle(
    redis: Redis, prefix: str, timeout: float, poll: float = 0.1, also: Callable[[], bool] | None = None
) -> bool:
    """Until nothing is queued or running for a second (and ``also`` holds); False at ``timeout``."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if (also is None or also()) and queue_state(redis, prefix).idle:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return True
        else:
            quiet_since = None
        time.sleep(poll)
    return False
