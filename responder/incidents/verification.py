"""Closing the loop: did automation fix the incident? (docs/playbooks.md, Closing the loop)

A rule with ``verify`` opens its incident with a loop (:mod:`responder.store.verification`)
waiting for the runs of its playbooks. Each run that ends tells the loop through a
control-lane job queued in the transaction that ended it (:func:`run_ended`):

1. when every run of the stage has *completed*, a check is scheduled ``after`` later;
2. the check (:func:`check`) asks Alertmanager (``GET /api/v2/alerts``) whether the
   incident's alerts, by fingerprint, still fire: ``verify.ok`` ends the loop, fixed;
   ``verify.failed`` or ``verify.unknown`` (Alertmanager unreachable: fail safe) run the
   ``else`` playbooks and check once more ``after`` they completed; still not fixed, the
   next escalation level is paged at once, saying what was tried;
3. a run that does not complete (failed, skipped because the same playbook already runs on
   its target, cancelled by the kill switch or the budget, a confirmation that expired) ends
   the loop with nothing verified (``verify.cancelled``); a failure or a spent budget pages
   as always.

An incident that Alertmanager's webhook resolves while its check is pending counts as
fixed (:func:`close`, in the resolve's transaction). With ``page: on_failure`` the
incident opens *held* (:mod:`responder.escalation.timers`): nobody is paged while the loop
runs, and whatever ends it without a fix pages level 1 through ``rt.escalate_now``.

Every change to a loop is one transaction that watches it, so a check, a run ending and a
resolution never decide on the same loop twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from redis import WatchError

from responder.actions.alertmanager import still_firing
from responder.config.durations import format_duration
from responder.errors import ActionError
from responder.plan import Automation, Facts, plan_else
from responder.plan.verify import Verdict, check_message, escalation_reason, next_step, tried, verdict_of
from responder.playbooks.runs import start_run
from responder.scheduling import DAY, JobSpec
from responder.store import guards, reports, runs
from responder.store import incidents as store
from responder.store import verification as loops
from responder.store.records import Alert, Event, Incident, RunStatus
from responder.store.verification import Loop, LoopState, Stage

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.config.models import Verify
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

CHECK = "responder.jobs.verify_check"
EARLY_WAIT = 1.5
"""The longest a check waits for its exact due time (as escalation timers do)."""
T = TypeVar("T")


@dataclass(frozen=True)
class _After:
    """What to do once a loop's change is stored: page (``escalate``) or tell the thread (``note``)."""

    result: str
    escalate: str | None = None
    note: str | None = None


def begin(
    pipe: Pipeline,
    rt: Runtime,
    incident: Incident,
    verify: Verify,
    run_ids: list[str],
    playbooks: list[str],
    *,
    held: bool,
    now: float,
) -> None:
    """Start the loop of a freshly opened incident, in the open's transaction."""
    loop = Loop(
        incident.id, Stage.FIRST, LoopState.RUNNING, verify.after, held, list(run_ids), list(playbooks),
        list(playbooks),
    )  # fmt: skip
    if held:
        fix = f"{tried(playbooks)} does not clear the alerts" if playbooks else "the alerts do not clear"
        message = (
            f"level 1 is held until verification (verify.page: on_failure): people are paged only if {fix}"
        )
        store.add_event(pipe, rt.keys, incident.id, Event(now, "escalation.held", message))
    if not run_ids:
        _await_check(pipe, rt, loop, now, "no playbooks to wait for")
    loops.save(pipe, rt.keys, loop)


def _await_check(pipe: Pipeline, rt: Runtime, loop: Loop, now: float, what: str) -> None:
    _schedule_check(pipe, rt, loop, now)
    wait = format_duration(loop.after)
    message = f"{what}; asking Alertmanager in {wait} whether the incident's alerts still fire"
    store.add_event(
        pipe, rt.keys, loop.incident_id, Event(now, "verify.waiting", message, {"stage": loop.stage.value})
    )


def _schedule_check(pipe: Pipeline, rt: Runtime, loop: Loop, now: float) -> None:
    loop.state, loop.check = LoopState.CHECKING, rt.new_id(16)
    due = now + loop.after
    job = JobSpec(
        CHECK,
        (loop.incident_id, loop.check, due),
        job_id=f"{rt.keys.prefix}-verify-{loop.incident_id}-{loop.check}",
        result_ttl=600,
        failure_ttl=DAY,
        description=f"verification of incident {loop.incident_id}",
    )
    rt.scheduler.enqueue_at(job, due, pipeline=pipe)


def _transact(
    rt: Runtime, incident_id: str, change: Callable[[Pipeline, Loop, Incident | None], T | None]
) -> T | None:
    """Run ``change`` on the loop and the incident as read under WATCH; it opens the transaction
    (``pipe.multi()``) and queues its writes, or returns None to write nothing."""
    keys = rt.keys
    with rt.redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.verification(incident_id), keys.incident(incident_id))
                loop = loops.load(pipe, keys, incident_id)
                if loop is None:
                    return None
                result = change(pipe, loop, store.find(pipe, keys, incident_id))
                if result is None:
                    return None
                pipe.execute()
                return result
            except WatchError:
                continue


def run_ended(rt: Runtime, run_id: str, escalated: bool, why: str = "") -> str:
    """The job queued when a run of a looped incident ended: count it off, schedule the check when
    the stage's runs all completed, or end the loop when one did not."""
    run = runs.load(rt.redis, rt.keys, run_id)
    if run is None:
        return "gone"

    def change(pipe: Pipeline, loop: Loop, incident: Incident | None) -> _After | None:
        if not loop.active or run_id not in loop.pending:
            return None
        now = rt.clock()
        pipe.multi()
        if run.status == RunStatus.COMPLETED:
            loop.pending.remove(run_id)
            if not loop.pending:
                _await_check(pipe, rt, loop, now, f"{tried(loop.playbooks)} completed")
            loops.save(pipe, rt.keys, loop)
            return _After("checking" if loop.state == LoopState.CHECKING else "waiting")
        loop.state, loop.pending = LoopState.DONE, []
        loops.save(pipe, rt.keys, loop)
        ended = why or f"playbook {run.playbook} ended {run.status.value}"
        message = f"no verification: {ended}; nothing more is checked"
        details = {"run": run_id, "status": run.status.value}
        store.add_event(pipe, rt.keys, run.incident_id, Event(now, "verify.cancelled", message, details))
        page = loop.held and not escalated and incident is not None and incident.open
        reason = f"automation did not run to completion ({ended}); tried {tried(loop.tried)}"
        return _After("ended", escalate=reason if page else None)

    after = _transact(rt, run.incident_id, change)
    return _finish(rt, run.incident_id, after)


def check(rt: Runtime, incident_id: str, token: str, due_at: float | None = None) -> str:
    """The scheduled check: ask Alertmanager, record the verdict, then fixed, else playbooks, or a page."""
    redis, keys = rt.redis, rt.keys
    if due_at is not None and due_at > rt.clock():
        rt.sleep(min(due_at - rt.clock(), EARLY_WAIT))  # RQ hands a timer over up to a second early
    loop = loops.load(redis, keys, incident_id)
    incident = store.find(redis, keys, incident_id)
    if loop is None or loop.state != LoopState.CHECKING or loop.check != token:
        return "void"
    if incident is None or not incident.open:
        return "void"  # resolved meanwhile: the resolution closed the loop
    alerts = [a for a in store.alerts(redis, keys, incident_id) if a.firing]
    fingerprints = [a.fingerprint for a in alerts]
    why = ""
    firing: set[str] | None = set()
    if fingerprints:
        try:
            firing = still_firing(fingerprints, [a.labels.get("alertname", "") for a in alerts])
        except ActionError as exc:
            firing, why = None, str(exc)
    verdict = verdict_of(fingerprints, firing)
    watching = loop.verified  # verified fixed before, the page still held: is it still fixed?
    rule = rt.config.rule(incident.rule)
    else_names = list(rule.verify.else_) if rule is not None and rule.verify is not None else []
    step = next_step(verdict, loop.stage == Stage.FIRST and not watching, bool(else_names))
    automation = None
    if step == "else" and rule is not None:
        facts = Facts(
            paused=guards.is_paused(redis, keys), budget_used=guards.budget_used(redis, keys, rt.clock())
        )
        automation = plan_else(rt.config, rule, facts)

    def change(pipe: Pipeline, loop: Loop, incident: Incident | None) -> _After | None:
        if loop.state != LoopState.CHECKING or loop.check != token or incident is None or not incident.open:
            return None
        now = rt.clock()
        pipe.multi()
        if watching and step == "fixed":
            _schedule_check(pipe, rt, loop, now)  # still fixed: look again until the webhook resolves it
            loops.save(pipe, keys, loop)
            return _After("ok")
        names = [a.name for a in alerts if verdict != "failed" or (firing and a.fingerprint in firing)]
        message = check_message(verdict, names, loop.after, loop.playbooks, why)
        if watching:
            message = f"fires again after it was verified fixed: {message}"
        details = {"stage": loop.stage.value, "still_firing": sorted(firing) if firing is not None else None}
        store.add_event(pipe, keys, incident.id, Event(now, f"verify.{verdict}", message, details))
        reports.count_rule(pipe, keys, incident, f"verify_{verdict}")
        loop.verdict = verdict
        if step == "else" and automation is not None and automation.runs:
            ids = _start_else(pipe, rt, incident, alerts[0], automation, now)
            if ids:
                loop.stage, loop.state, loop.pending = Stage.ELSE, LoopState.RUNNING, ids
                loop.playbooks = list(automation.playbooks)
                loop.tried = [*loop.tried, *automation.playbooks]
                loops.save(pipe, keys, loop)
                later = f"running {tried(automation.playbooks)}, then checking again"
                return _After(verdict, note=None if loop.held else f"{message}: {later}")
        if step == "fixed" and loop.held:
            # Nobody was paged: until Alertmanager's webhook resolves the incident, keep asking, so
            # an alert that comes back in the meantime is not left with nobody told.
            _schedule_check(pipe, rt, loop, now)
            loops.save(pipe, keys, loop)
            return _After(verdict)
        loop.state = LoopState.DONE
        loops.save(pipe, keys, loop)
        if step == "fixed":
            return _After(verdict, note=message)
        extra = ""
        if automation is not None and automation.held is not None:
            extra = f"{', '.join(automation.playbooks)} not run: {automation.held}"
            held = f"verify.else playbooks not run: {automation.held} ({', '.join(automation.playbooks)})"
            store.add_event(
                pipe, keys, incident.id, Event(now, automation.held_kind or "playbook.held", held)
            )
        head = "the alerts fire again after verification found them cleared" if watching else ""
        return _After(verdict, escalate=escalation_reason(verdict, loop.tried, extra, head))

    return _finish(rt, incident_id, _transact(rt, incident_id, change))


def _start_else(
    pipe: Pipeline, rt: Runtime, incident: Incident, alert: Alert, automation: Automation, now: float
) -> list[str]:
    """Start the ``verify.else`` runs (those still in the config); their ids."""
    ids = []
    for name in automation.playbooks:
        playbook = rt.config.playbooks.get(name)
        if playbook is not None:
            run_id = start_run(
                pipe,
                rt,
                playbook,
                incident,
                alert,
                trigger="else",
                dry_run=automation.dry_run,
                now=now,
                confirm=automation.confirm,
            )
            ids.append(run_id)
    return ids


def _finish(rt: Runtime, incident_id: str, after: _After | None) -> str:
    if after is None:
        return "void"
    if after.escalate is not None:
        rt.escalate_now(incident_id, after.escalate)
    elif after.note is not None:
        incident = store.find(rt.redis, rt.keys, incident_id)
        if incident is not None and incident.open:
            try:
                rt.note(incident, after.note)
            except Exception:  # telling the thread is a courtesy; the timeline has it
                log.exception("could not post the verification to the incident thread")
    return after.result


def verified_by_resolution(loop: Loop | None, by: str) -> bool:
    """Whether a resolution now is the verdict: Alertmanager resolved it while its check was pending."""
    return loop is not None and loop.state == LoopState.CHECKING and by == "alertmanager"


def close(pipe: Pipeline, rt: Runtime, incident: Incident, loop: Loop, by: str, now: float) -> None:
    """The incident resolves: end its loop (in the resolve's transaction), fixed when Alertmanager
    resolved it while the check was pending."""
    if not loop.active:
        return
    if verified_by_resolution(loop, by) and not loop.verified:
        message = (
            f"verified: Alertmanager resolved the incident's alerts after {tried(loop.playbooks)} "
            "completed, before the check"
        )
        store.add_event(
            pipe, rt.keys, incident.id, Event(now, "verify.ok", message, {"stage": loop.stage.value})
        )
        reports.count_rule(pipe, rt.keys, incident, "verify_ok")
        loop.verdict = "ok"
    loop.state, loop.pending = LoopState.DONE, []
    loops.save(pipe, rt.keys, loop)


__all__ = ["Verdict", "begin", "check", "close", "run_ended", "verified_by_resolution"]
