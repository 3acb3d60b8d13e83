"""Escalation timers as RQ scheduled jobs, voided by a token.

Opening an incident stores a fresh token and schedules one job per level. Ack and
resolve replace the token, so a timer that fires afterwards finds a different token
and does nothing: no one is paged after an ack, even if the job was already queued.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis import WatchError
from rq import Queue

from responder.escalation import paging
from responder.escalation.schedule import plan
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.incidents import Status

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.config.models import Rule
    from responder.runtime import Runtime
    from responder.store.keys import Keys

ESCALATE = "responder.jobs.escalate"
VOID = "void"


def start(
    pipe: Pipeline,
    queue: Queue,
    keys: Keys,
    incident_id: str,
    rule: Rule,
    levels: list[list[str]],
    opened_at: float,
) -> None:
    """Queue level 1 now and schedule the later levels (in the caller's transaction)."""
    token = uuid.uuid4().hex
    pipe.hset(keys.escalation(incident_id), mapping={"token": token, "level": 0})
    for level in plan(levels, rule.escalation.after):
        job_id = f"{keys.prefix}-esc-{incident_id}-{level.number}"
        if level.due_in <= 0:
            queue.enqueue_call(
                ESCALATE,
                args=(incident_id, level.number, token),
                job_id=job_id,
                pipeline=pipe,
                result_ttl=600,
                failure_ttl=86400,
            )
        else:
            due_at = opened_at + level.due_in
            job = queue.create_job(
                ESCALATE,
                args=(incident_id, level.number, token, due_at),
                job_id=job_id,
                result_ttl=600,
                failure_ttl=86400,
            )
            queue.schedule_job(job, _schedule_time(due_at), pipeline=pipe)


def void(pipe: Pipeline, keys: Keys, incident_id: str) -> None:
    pipe.hset(keys.escalation(incident_id), "token", VOID)


def claim(redis: Redis, keys: Keys, incident_id: str, level: int, token: str | None) -> dict[str, Any] | None:
    """Atomically move the incident to ``level`` if it is still ours to page.

    ``token`` None means "escalate now" (a failed step): any live token will do and the
    level is the next one. Returns the incident, or None when the page must not happen.
    """
    esc_key = keys.escalation(incident_id)
    inc_key = keys.incident(incident_id)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(esc_key, inc_key)
                current = pipe.hgetall(esc_key)
                status = pipe.hget(inc_key, "status")
                live = text(current.get(b"token", b""))
                reached = int(current.get(b"level", b"0"))
                if status != Status.TRIGGERED.value.encode() or not live or live == VOID:
                    return None
                if token is not None and live != token:
                    return None
                target = reached + 1 if token is None else level
                if target <= reached:
                    return None
                pipe.multi()
                pipe.hset(esc_key, "level", target)
                pipe.execute()
                incident = store.get(redis, keys, incident_id)
                incident["level"] = target
                return incident
            except WatchError:
                continue


def _schedule_time(due_at: float) -> datetime:
    """When to hand a timer to RQ: the whole second at or before ``due_at``.

    RQ keeps due times in whole seconds and its scheduler looks once a second, so a
    timer reaches a worker between ``floor(due_at)`` and about a second after; the job
    then waits out whatever is left (:data:`EARLY_WAIT`), so a page is never early and
    at most about a second late. Rounding up instead made pages up to two seconds late.
    """
    return datetime.fromtimestamp(math.floor(due_at), UTC)


EARLY_WAIT = 1.5
"""The longest a timer job waits for its exact due time (it can only be early by < 1 s)."""


def fire(runtime: Runtime, incident_id: str, level: int, token: str, due_at: float | None = None) -> str:
    """The job a timer runs: page the level unless the incident was acked, resolved or already past it."""
    if due_at is not None:
        early = due_at - runtime.clock()
        if early > 0:
            time.sleep(min(early, EARLY_WAIT))
    incident = claim(runtime.redis, runtime.keys, incident_id, level, token)
    if incident is None:
        return "void"
    reason = "incident opened" if level == 1 else f"not acknowledged after {_elapsed(runtime, incident)}"
    paging.page_level(runtime.redis, runtime.keys, runtime.config, incident, level, reason)
    _maybe_repeat(runtime, incident, level, token)
    return f"paged level {level}"


def escalate_now(runtime: Runtime, incident_id: str, reason: str) -> int | None:
    """Jump to the next level at once (a playbook step failed, the action budget ran out)."""
    incident = claim(runtime.redis, runtime.keys, incident_id, 0, None)
    if incident is None:
        return None
    level = int(incident["level"])
    paging.page_level(runtime.redis, runtime.keys, runtime.config, incident, level, reason)
    return level


def _maybe_repeat(runtime: Runtime, incident: dict[str, Any], level: int, token: str) -> None:
    rule = paging.rule_of(runtime.config, incident)
    if rule is None or not rule.escalation.repeat:
        return
    levels = runtime.config.responder.escalation_policies.get(rule.escalation.policy) or []
    if level < len(levels):
        return
    due_at = runtime.clock() + rule.escalation.after
    runtime.queue.enqueue_at(
        _schedule_time(due_at),
        ESCALATE,
        incident["id"],
        level + 1,
        token,
        due_at,
        job_id=f"{runtime.keys.prefix}-esc-{incident['id']}-{level + 1}",
    )


def _elapsed(runtime: Runtime, incident: dict[str, Any]) -> str:
    from responder.config.durations import format_duration

    return format_duration(round(runtime.clock() - float(incident["created_at"])))
