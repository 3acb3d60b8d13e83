"""Recording what a step did, in one place: timeline, run state, the next job, the lock, the page.

Each function ends a step job. The writes for one outcome land in one transaction, so a
worker that dies half-way leaves the run where it was and the retried job finds it there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from responder.errors import ActionError
from responder.notify.base import Approval
from responder.playbooks.runs import enqueue_step, schedule_expiry, tell_loop
from responder.redact import redact
from responder.store import guards, reports, runs
from responder.store import incidents as store
from responder.store.records import Event, Run, RunStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.playbooks.gates import StepSnapshot
    from responder.runtime import Runtime

log = logging.getLogger(__name__)


def advance(
    rt: Runtime,
    snap: StepSnapshot,
    message: str,
    *,
    outcome: str,
    details: dict[str, Any] | None = None,
    took: float | None = None,
    secrets: Sequence[str] = (),
) -> str:
    """Record step ``snap.index`` as ``outcome`` and move on: queue the next step, or complete the run.

    ``secrets`` are the secret values the step used: they never reach the timeline.
    """
    run, playbook, keys = snap.run, snap.playbook, rt.keys
    assert run is not None and playbook is not None
    index, now = snap.index, rt.clock()
    last = index + 1 >= len(playbook.steps)
    extra: dict[str, Any] = {"run": run.id, "step": index, "outcome": outcome}
    if details:
        extra["result"] = redact(details, secrets)
    if took is not None:
        extra["seconds"] = took
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # RQ's enqueue wants the transaction opened explicitly
        runs.step_done(pipe, keys, run.id, index, outcome)
        if snap.incident is not None and outcome != "skipped":
            reports.count_rule(pipe, keys, snap.incident, "steps_ok" if outcome == "ok" else "steps_failed")
        events = [Event(now, f"step.{outcome}", redact(message, secrets), extra)]
        if last:
            runs.set_status(pipe, keys, run.id, RunStatus.COMPLETED)
            if snap.incident is not None:
                reports.count_rule(pipe, keys, snap.incident, "runs_completed")
            events.append(
                Event(now, "playbook.completed", f"playbook {playbook.name} completed", {"run": run.id})
            )
            run.status = RunStatus.COMPLETED
            tell_loop(pipe, rt, run, escalated=False, active=snap.loop_active)
            _release(pipe, rt, run)  # in the transaction: the lock goes with the run's end
        else:
            enqueue_step(pipe, rt, run.id, index + 1, playbook.steps[index + 1], run.lane)
        store.add_events(pipe, keys, run.incident_id, events)
        pipe.execute()
    return outcome


def failed_attempt(
    rt: Runtime, snap: StepSnapshot, reason: str, retryable: bool, secrets: Sequence[str] = ()
) -> str:
    """One attempt failed: raise to have RQ retry it after its backoff, or fail the step for good."""
    run, step = snap.run, snap.step
    assert run is not None and step is not None
    reason = redact(reason, secrets)
    failures = runs.count_failure(rt.redis, rt.keys, run.id, snap.index)
    if retryable and failures <= step.retries:
        retry = Event(
            rt.clock(),
            "step.retry",
            f"{snap.label} attempt {failures} failed, retrying: {reason}",
            {"run": run.id, "step": snap.index},
        )
        store.add_event(rt.redis, rt.keys, run.incident_id, retry)
        raise ActionError(reason)
    attempts = f" after {failures} attempts" if failures > 1 else ""
    message = f"{snap.label} failed{attempts}: {reason}"
    return fail(rt, snap, message, continue_on_error=step.continue_on_error, secrets=secrets)


def fail(
    rt: Runtime,
    snap: StepSnapshot,
    message: str,
    *,
    continue_on_error: bool = False,
    secrets: Sequence[str] = (),
) -> str:
    """The step failed: stop the run, tell the thread and page the next level at once."""
    run, incident = snap.run, snap.incident
    assert run is not None
    message = redact(message, secrets)
    if continue_on_error and snap.playbook is not None:
        return advance(rt, snap, f"{message} (continuing: continue_on_error)", outcome="failed")
    finish(rt, snap, RunStatus.FAILED, message, kind="step.failed", escalated=True)
    if incident is not None:
        _tell(rt, snap, message)
    rt.escalate_now(run.incident_id, message)
    return "failed"


def finish(
    rt: Runtime,
    snap: StepSnapshot,
    status: RunStatus,
    message: str,
    *,
    kind: str | None = None,
    release: bool = True,
    escalated: bool = False,
) -> str:
    """End the run with ``status`` (``playbook.<status>`` in the timeline unless ``kind`` says otherwise).

    ``escalated``: the caller pages the next level itself (the verification loop must not).
    """
    run = snap.run
    assert run is not None
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # RQ's enqueue (the verification loop's job) wants the transaction opened explicitly
        runs.set_status(pipe, rt.keys, run.id, status)
        if status == RunStatus.FAILED and snap.incident is not None:
            reports.count_rule(pipe, rt.keys, snap.incident, "runs_failed")
            if kind == "step.failed":
                reports.count_rule(pipe, rt.keys, snap.incident, "steps_failed")
        event = Event(rt.clock(), kind or f"playbook.{status.value}", message, {"run": run.id})
        store.add_event(pipe, rt.keys, run.incident_id, event)
        run.status = status
        tell_loop(pipe, rt, run, escalated=escalated, why=message, active=snap.loop_active)
        pipe.execute()
    if release:
        _release(rt.redis, rt, run)
    return status.value


def await_approval(rt: Runtime, snap: StepSnapshot, message: str) -> str:
    """Park the run until someone approves the step; the thread gets the Approve button."""
    run = snap.run
    assert run is not None
    now = rt.clock()
    with rt.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # RQ's scheduling wants the transaction opened explicitly
        runs.await_approval(pipe, rt.keys, run.id, now)
        event = Event(now, "step.awaiting_approval", message, {"run": run.id, "step": snap.index})
        store.add_event(pipe, rt.keys, run.incident_id, event)
        schedule_expiry(pipe, rt, run.id, snap.index, now)  # a wait lasts an hour, not 30 days
        pipe.execute()
    _tell(rt, snap, message, Approval(run.id, snap.index))
    return "awaiting approval"


def budget_spent(rt: Runtime, snap: StepSnapshot, message: str) -> str:
    """Automation stops for this run and the next level is paged with the reason."""
    run = snap.run
    assert run is not None
    finish(rt, snap, RunStatus.CANCELLED, message, escalated=True)
    rt.escalate_now(run.incident_id, message)
    return "budget exhausted"


def fail_unreadable(rt: Runtime, run_id: str, index: int, reason: str) -> str:
    """End a run whose record cannot be read any more: mark it failed, record it, page."""
    raw = rt.redis.hmget(rt.keys.run(run_id), ["incident_id", "playbook"])
    incident_id, playbook = (value.decode() if isinstance(value, bytes) else value for value in raw)
    if not incident_id:
        log.error("step %d of run %s failed and the run has no incident to tell: %s", index, run_id, reason)
        return "failed"
    message = f"{playbook} step {index + 1} failed: its job failed unexpectedly: {reason}"
    with rt.redis.pipeline(transaction=True) as pipe:
        runs.set_status(pipe, rt.keys, run_id, RunStatus.FAILED)
        event = Event(rt.clock(), "step.failed", message, {"run": run_id, "step": index})
        store.add_event(pipe, rt.keys, incident_id, event)
        pipe.execute()
    rt.escalate_now(incident_id, message)
    return "failed"


def _release(redis: Redis | Pipeline, rt: Runtime, run: Run) -> None:
    guards.release_playbook_lock(redis, rt.keys, run.playbook, run.target or "any", run.id)


def _tell(rt: Runtime, snap: StepSnapshot, message: str, approval: Approval | None = None) -> None:
    """Post to the incident's thread; a channel failing here must not fail the step's bookkeeping."""
    if snap.incident is None:
        return
    try:
        rt.note(snap.incident, message, None, approval=approval)
    except Exception:
        log.exception("could not post to the incident thread")
