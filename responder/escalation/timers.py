"""Escalation timers: one scheduled job per level, voided by a token.

Opening an incident stores a fresh token and schedules one job per level. Ack and
resolve replace the token, so a timer that fires afterwards finds a different token
and does nothing: no one is paged after an ack, even if the job was already queued.

A rule that verifies with ``page: on_failure`` opens *held*: the token is stored but no
timer is scheduled, so nobody is paged while automation works. If the loop ends in
failure, :func:`escalate_now` pages level 1 and schedules the later levels from that
moment, on the policy's timers; a fixed incident resolves with nobody paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import WatchError

from responder.config.durations import format_duration
from responder.escalation import paging
from responder.escalation.schedule import plan
from responder.scheduling import DAY, JobSpec
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.records import Incident, IncidentStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.config.models import Rule
    from responder.runtime import Runtime
    from responder.store.keys import Keys

ESCALATE = "responder.jobs.escalate"
VOID = "void"
HELD = "held"
"""Field of the escalation hash: level 1 waits for the verification's verdict (``page: on_failure``)."""
EARLY_WAIT = 1.5
"""The longest a timer job waits for its exact due time (RQ hands it over < 1 s early)."""


def _timer(rt: Runtime, incident_id: str, level: int, token: str, due_at: float | None) -> JobSpec:
    return JobSpec(
        ESCALATE,
        (incident_id, level, token, due_at),
        job_id=f"{rt.keys.prefix}-esc-{incident_id}-{level}",
        result_ttl=600,
        failure_ttl=DAY,
        description=f"escalation of incident {incident_id} to level {level}",
    )


def start(
    pipe: Pipeline, rt: Runtime, incident_id: str, rule: Rule, opened_at: float, *, hold: bool = False
) -> None:
    """Queue level 1 now and schedule the later levels (in the caller's transaction).

    ``hold``: schedule nothing yet; the first :func:`escalate_now` pages level 1 and starts the rest.
    """
    token = rt.new_id(32)
    pipe.hset(rt.keys.escalation(incident_id), mapping={"token": token, "level": 0})
    if hold:
        pipe.hset(rt.keys.escalation(incident_id), HELD, 1)
        return
    _schedule(pipe, rt, incident_id, rule, token, opened_at, after_level=0)


def _schedule(
    pipe: Pipeline | None,
    rt: Runtime,
    incident_id: str,
    rule: Rule,
    token: str,
    since: float,
    *,
    after_level: int,
) -> None:
    """Schedule the levels past ``after_level``, spaced ``after`` apart as the policy spaces them: from
    a fresh start (``after_level`` 0) level 1 at ``since``, level 2 at ``since + after``...; past a
    level paged at ``since``, the next one ``after`` later."""
    after = rule.escalation.after
    for level in plan(rt.config.levels(rule), after):
        if level.number <= after_level:
            continue
        due_in = level.due_in if after_level == 0 else (level.number - after_level) * after
        if due_in <= 0:
            rt.scheduler.enqueue(_timer(rt, incident_id, level.number, token, None), pipeline=pipe)
        else:
            due_at = since + due_in
            spec = _timer(rt, incident_id, level.number, token, due_at)
            rt.scheduler.enqueue_at(spec, due_at, pipeline=pipe)


def void(pipe: Pipeline, keys: Keys, incident_id: str) -> None:
    pipe.hset(keys.escalation(incident_id), "token", VOID)


@dataclass(frozen=True)
class Claim:
    incident: Incident
    level: int
    token: str
    released: bool = False
    """The incident was held (``page: on_failure``): its later levels are not scheduled yet."""


def claim(redis: Redis, keys: Keys, incident_id: str, level: int, token: str | None) -> Claim | None:
    """Atomically move the incident to ``level`` if it is still ours to page.

    ``token`` None means "escalate now" (a failed step): any live token will do and the
    level is the next one; a held incident is released by it. Returns what to page, or None
    when the page must not happen (acknowledged, resolved, voided, or already past that level).
    """
    esc_key = keys.escalation(incident_id)
    inc_key = keys.incident(incident_id)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(esc_key, inc_key)
                current = {text(k): text(v) for k, v in pipe.hgetall(esc_key).items()}
                incident = store.find(pipe, keys, incident_id)
                live = current.get("token", "")
                reached = int(current.get("level", "0"))
                if incident is None or incident.status != IncidentStatus.TRIGGERED:
                    return None
                if not live or live == VOID or (token is not None and live != token):
                    return None
                target = reached + 1 if token is None else level
                if target <= reached:
                    return None
                held = token is None and current.get(HELD) == "1"
                pipe.multi()
                pipe.hset(esc_key, "level", target)
                if held:
                    pipe.hdel(esc_key, HELD)
                pipe.execute()
                return Claim(incident, target, live, held)
            except WatchError:
                continue


def fire(rt: Runtime, incident_id: str, level: int, token: str, due_at: float | None = None) -> str:
    """The job a timer runs: page the level unless the incident was acked, resolved or already past it."""
    if due_at is not None:
        early = due_at - rt.clock()
        if early > 0:
            rt.sleep(min(early, EARLY_WAIT))
    claimed = claim(rt.redis, rt.keys, incident_id, level, token)
    if claimed is None:
        return "void"
    incident, level = claimed.incident, claimed.level
    elapsed = format_duration(round(rt.clock() - incident.created_at))
    reason = "incident opened" if level == 1 else f"not acknowledged after {elapsed}"
    level = _page_until_reached(rt, incident, level, reason)
    _maybe_repeat(rt, incident, level, token)
    return f"paged level {level}"


def escalate_now(rt: Runtime, incident_id: str, reason: str) -> int | None:
    """Jump to the next level at once (a playbook step failed, the action budget ran out, automation
    did not clear it). A held incident pages level 1 and its later levels follow on the policy's
    timers from now."""
    claimed = claim(rt.redis, rt.keys, incident_id, 0, None)
    if claimed is None:
        return None
    level = _page_until_reached(rt, claimed.incident, claimed.level, reason)
    if claimed.released:
        rule = rt.config.rule(claimed.incident.rule)
        if rule is not None:
            _schedule(None, rt, incident_id, rule, claimed.token, rt.clock(), after_level=level)
            _maybe_repeat(rt, claimed.incident, level, claimed.token)
    return level


def _page_until_reached(rt: Runtime, incident: Incident, level: int, reason: str) -> int:
    """Page ``level``; while a level reaches nobody, page the next one at once (docs/escalation.md).

    Stops at the policy's last level: an unreached last level is recorded and escalation rests
    there (a ``repeat`` policy tries it again on its timer). Returns the level reached last.
    """
    rule = rt.config.rule(incident.rule)
    last = len(rt.config.levels(rule)) if rule is not None else 0
    while not paging.page_level(rt, incident, level, reason) and level < last:
        claimed = claim(rt.redis, rt.keys, incident.id, 0, None)
        if claimed is None:  # acknowledged or resolved meanwhile
            break
        incident, level = claimed.incident, claimed.level
        reason = f"level {level - 1} reached nobody"
    return level


def _maybe_repeat(rt: Runtime, incident: Incident, level: int, token: str) -> None:
    """With ``repeat: true``, past the last level: page the last level again every ``after``."""
    rule = rt.config.rule(incident.rule)
    if rule is None or not rule.escalation.repeat or level < len(rt.config.levels(rule)):
        return
    due_at = rt.clock() + rule.escalation.after
    rt.scheduler.enqueue_at(_timer(rt, incident.id, level + 1, token, due_at), due_at)
