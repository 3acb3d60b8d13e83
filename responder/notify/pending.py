"""Deliveries held back by a rate limit, kept in order per incident and channel target.

When Slack or PagerDuty answers 429, the delivery is not retried in the worker: it goes
to a list in Redis, one per (incident, channel, target), and a job in the control lane
is scheduled for when the service said to come back (``Retry-After``). While that list
is not empty, every later message for the same incident and target joins its end
instead of being sent, so a thread reads in order (the card before its replies, the
page before the ack) and an update waits for the card it edits. The job sends the list
head first, oldest to newest, and stops when it is empty or the service limits again
(then it schedules itself once more). Other targets are not held up: each has its own
list.

Why a list and not "re-enqueue the remaining sequence": the later messages are sent by
other jobs (the next level's timer, the ack's paging update), which cannot know a
delivery before them is waiting unless the waiting is recorded where they look.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.notify.base import Approval, Confirmation, Message
from responder.scheduling import DAY, JobSpec, Lane
from responder.store.codec import text

if TYPE_CHECKING:
    from redis import Redis

    from responder.scheduling import Scheduler
    from responder.store.keys import Keys
    from responder.store.records import Incident

DELIVER = "responder.jobs.deliver_pending"
MAX_ATTEMPTS = 20
"""Rate-limited attempts before a delivery is given up (recorded as failed); at a typical
Retry-After of seconds, minutes of trying."""
PENDING_TTL = DAY
"""A list nobody drains (its job lost with Redis' data) does not outlive a day."""

# KEYS[1] = the target's pending list; ARGV[1] = entry, ARGV[2] = TTL. Appends only behind
# something already waiting, atomically, so an entry never lands on a list its job has just left.
_QUEUE_BEHIND = """
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Later:
    """How to come back to a rate-limited delivery: the scheduler to queue the retry with, and now."""

    scheduler: Scheduler
    now: float


def entry(message: Message, team: str, now: float) -> str:
    """A waiting delivery as stored: enough to rebuild the message around the incident as it is then."""
    return json.dumps(
        {
            "kind": message.kind,
            "text": message.text,
            "level": message.level,
            "by": message.by,
            "approval": message.approval.value if message.approval else None,
            "confirmations": [[c.run_id, c.playbook] for c in message.confirmations],
            "team": team,
            "since": now,
            "attempts": 0,
        }
    )


def message_of(data: dict[str, Any], incident: Incident, incident_url: str | None) -> Message:
    approval = Approval.parse(data["approval"]) if data.get("approval") else None
    return Message(
        kind=data["kind"],
        incident=incident,
        text=data["text"],
        level=int(data["level"]),
        by=data.get("by"),
        incident_url=incident_url,
        approval=approval,
        confirmations=tuple(Confirmation(str(r), str(p)) for r, p in data.get("confirmations") or ()),
    )


def queue_behind(redis: Redis, key: str, item: str) -> bool:
    """Append ``item`` to a target's list if a delivery is already waiting there; False if none is."""
    return bool(redis.eval(_QUEUE_BEHIND, 1, key, item, PENDING_TTL))


def defer(
    redis: Redis,
    keys: Keys,
    later: Later,
    incident_id: str,
    channel: str,
    target: str,
    item: str,
    wait: float,
) -> None:
    """Put a rate-limited delivery on its target's list; the first one there schedules the job."""
    key = keys.pending_deliveries(incident_id, channel, target)
    with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, item)
        pipe.expire(key, PENDING_TTL)
        length = int(pipe.execute()[0])
    if length == 1:
        schedule(later, incident_id, channel, target, wait)


def schedule(later: Later, incident_id: str, channel: str, target: str, wait: float) -> None:
    """Queue the job that sends a target's waiting deliveries, ``wait`` seconds from now.

    One job per list at a time: it is scheduled when the list gets its first entry, and
    again only by itself, when the service limits it once more. (Not under a fixed job id:
    a job rescheduling itself under its own id would be clobbered as it finishes.)
    """
    job = JobSpec(
        DELIVER,
        (incident_id, channel, target),
        # A job that dies (a worker killed, Redis gone for a moment) is run again: until its list
        # is empty, later messages to the target wait behind it.
        retry_intervals=(2, 10, 30, 60),
        result_ttl=600,
        failure_ttl=DAY,
        description=f"rate-limited {channel} deliveries of incident {incident_id} to {target}",
        lane=Lane.CONTROL,
    )
    # The whole second at or after: RQ rounds due times down, and a retry before Retry-After is refused.
    later.scheduler.enqueue_at(job, math.ceil(later.now + wait))


def head(redis: Redis, key: str) -> dict[str, Any] | None:
    raw = redis.lindex(key, 0)
    return None if raw is None else dict(json.loads(text(raw)))


def retry_head(redis: Redis, key: str, data: dict[str, Any]) -> int:
    """Count one more rate-limited attempt of the list's head; returns the attempts so far."""
    data = {**data, "attempts": int(data.get("attempts", 0)) + 1}
    redis.lset(key, 0, json.dumps(data))
    return int(data["attempts"])


def pop_head(redis: Redis, key: str) -> bool:
    """Drop the head (it was delivered or given up); True while more wait behind it."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.lpop(key)
        pipe.llen(key)
        return int(pipe.execute()[1]) > 0
