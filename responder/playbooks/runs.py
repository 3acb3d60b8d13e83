"""Starting a playbook run and queueing its steps: one RQ job per step.

A run is a Redis hash holding the step it is on (:mod:`responder.store.runs`). A step job
does its action and then, in one transaction, records the outcome, moves the run to the
next step and queues that step's job (:mod:`responder.playbooks.steps`). So a worker
killed mid-step leaves the run on that step: RQ's abandoned-job cleanup re-queues the job
and the run resumes there, and a completed step is never run again.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from responder.config.durations import format_duration
from responder.playbooks.gates import APPROVAL_WAIT
from responder.scheduling import JobSpec, Lane, step_lane
from responder.store import incidents as store
from responder.store import reports, runs
from responder.store import verification as loops
from responder.store.records import Alert, Event, Incident, Run, RunStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.config.models import Playbook, Step
    from responder.runtime import Runtime

EXECUTE_STEP = "responder.jobs.execute_step"
LOOP_RUN_ENDED = "responder.jobs.verify_run_ended"
EXPIRE_APPROVAL = "responder.jobs.approval_expired"
STEP_FAILED = "responder.jobs.step_job_failed"
ABANDON_RETRIES = 3
"""Room for RQ to re-run a step whose worker died; a step's own failures are counted by the run, not by RQ."""


def _backoff(retries: int) -> tuple[int, ...]:
    return tuple(min(2**i, 60) for i in range(retries + ABANDON_RETRIES))


def step_job(run_id: str, index: int, step: Step, lane: Lane, job_id: str | None = None) -> JobSpec:
    return JobSpec(
        EXECUTE_STEP,
        (run_id, index),
        job_id=job_id,
        timeout=int(step.timeout) + 10,
        retry_intervals=_backoff(step.retries),
        result_ttl=3600,
        description=f"playbook run {run_id} step {index + 1}",
        on_failure=STEP_FAILED,
        lane=lane,
    )


def enqueue_step(
    pipe: Pipeline, rt: Runtime, run_id: str, index: int, step: Step, lane: str | None = None
) -> None:
    """Queue step ``index``'s job in the run's lane (read from the run when the caller does not have
    it) and note the job's id on the run, so the workers' sweep can tell when a Redis crash or
    failover lost the job (:mod:`responder.orphans`)."""
    if lane is None:
        lane = runs.lane(rt.redis, rt.keys, run_id) or Lane.HIGH
    spec = step_job(run_id, index, step, step_lane(lane), step_job_id(rt, run_id, index))
    assert spec.job_id is not None
    runs.track_step_job(pipe, rt.keys, run_id, spec.job_id)
    rt.scheduler.enqueue(spec, pipeline=pipe)


def step_job_id(rt: Runtime, run_id: str, index: int) -> str:
    """A fresh id per queueing (an approved step is queued again under a new one)."""
    return f"{rt.keys.prefix}-step-{run_id}-{index}-{rt.new_id(8)}"


def start_run(
    pipe: Pipeline,
    rt: Runtime,
    playbook: Playbook,
    incident: Incident,
    alert: Alert,
    *,
    trigger: str,
    dry_run: bool,
    now: float,
    confirm: bool = False,
) -> str:
    """Create a run and queue its first step, in the caller's transaction. Returns the run id.

    Its steps wait in the lane of the incident's severity, so a critical incident's steps go
    before those of a storm of low ones. ``confirm`` (``automation: confirm``): the run waits
    for a Run click instead, as a ``requires_approval`` step does, and expires with it.
    """
    incident_id = incident.id
    run = Run(
        id=rt.new_id(16),
        incident_id=incident_id,
        playbook=playbook.name,
        alert=alert,
        trigger=trigger,
        dry_run=dry_run,
        status=RunStatus.AWAITING_APPROVAL if confirm else RunStatus.RUNNING,
        step=0,
        created_at=now,
        lane=step_lane(incident.severity),
        awaiting_since=now if confirm else None,
        confirm=confirm,
    )
    runs.create(pipe, rt.keys, run)
    reports.count_rule(pipe, rt.keys, incident, "runs_started")
    store.add_event(
        pipe,
        rt.keys,
        incident_id,
        Event(
            now,
            "playbook.started",
            f"playbook {playbook.name} started ({trigger}{', dry run' if dry_run else ''})",
            {"run": run.id, "playbook": playbook.name},
        ),
    )
    if confirm:
        waits = (
            f"playbook {playbook.name} (run {run.id}) waits for a Run click before its first step: "
            f"the Run button in Slack or on the dashboard, or `responder approve {run.id}`; "
            f"it expires after {format_duration(APPROVAL_WAIT)}"
        )
        event = Event(
            now, "playbook.awaiting_confirmation", waits, {"run": run.id, "playbook": playbook.name}
        )
        store.add_event(pipe, rt.keys, incident_id, event)
        schedule_expiry(pipe, rt, run.id, 0, now)
    else:
        enqueue_step(pipe, rt, run.id, 0, playbook.steps[0], run.lane)
    return run.id


def schedule_expiry(pipe: Pipeline, rt: Runtime, run_id: str, index: int, since: float) -> None:
    """Queue, in the caller's transaction, the end of a wait for approval (or for a Run click) that
    began at ``since``: a wait lasts :data:`APPROVAL_WAIT`, not the 30 days a run is kept."""
    schedule_expiry_at(pipe, rt, run_id, index, since + APPROVAL_WAIT)


def schedule_expiry_at(pipe: Pipeline, rt: Runtime, run_id: str, index: int, deadline: float) -> None:
    # At the whole second at or after the deadline: RQ keeps due times in whole seconds, and
    # a job that ran before the deadline would find the wait not yet over.
    job = JobSpec(
        EXPIRE_APPROVAL,
        (run_id, index),
        description=f"approval of run {run_id} step {index + 1} expires",
        result_ttl=3600,
    )
    rt.scheduler.enqueue_at(job, math.ceil(deadline), pipeline=pipe)


def tell_loop(
    pipe: Pipeline, rt: Runtime, run: Run, *, escalated: bool, why: str = "", active: bool | None = None
) -> None:
    """Queue, in the caller's transaction that ends ``run``, the job that tells its incident's
    verification loop (:mod:`responder.incidents.verification`); nothing when there is none.

    ``escalated``: whoever ended the run pages the next level itself (a failed step, a spent
    budget), so the loop must not page for it again. ``why``: how it ended, for the timeline.
    ``active``: whether the loop runs, when the caller already read it (else it is read here).
    """
    if run.trigger == "resolved":
        return
    if not (loops.active(rt.redis, rt.keys, run.incident_id) if active is None else active):
        return
    job = JobSpec(
        LOOP_RUN_ENDED,
        (run.id, escalated, why),
        result_ttl=600,
        description=f"verification hears that run {run.id} ended",
    )
    rt.scheduler.enqueue(job, pipeline=pipe)
