"""RQ job entry points, named by dotted path in :class:`responder.scheduling.JobSpec`.

Thin: each takes this worker's runtime and calls the domain code.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.job import Job

from responder import runtime
from responder.errors import ActionError, IncidentNotFound
from responder.escalation import paging, timers
from responder.incidents import clicks, heartbeat, intake, silencing, verification
from responder.notify.slack_interactions import SlackAction
from responder.playbooks import approval, steps
from responder.store import incidents as store
from responder.store import ingest

log = logging.getLogger(__name__)


def process_batch(batch_id: str) -> dict[str, int]:
    """Apply the alerts of one accepted webhook request (a job queued by a version before
    ``drain_intake``, or by hand)."""
    return intake.process_batch(runtime.current(), batch_id)


DRAIN_BATCHES = 50
"""Batches one drain job applies before it hands over to a fresh one, so a worker looks at the
lanes before intake (control) at least this often even in a storm."""


def drain_intake() -> dict[str, int]:
    """Apply accepted webhook batches off the intake list until it is empty (:mod:`responder.store.ingest`).

    The batches this job had taken before (it is a retry) go first. An exception leaves the
    batch recorded as taken by this job, so RQ's retry of the job applies it again (each
    alert once); a job that failed for good keeps its batch for the failed-job registry.
    """
    rt = runtime.current()
    job = get_current_job()
    job_id = job.id if job is not None else ""
    counts = {"batches": 0, "alerts": 0, "unmatched": 0}
    todo = ingest.drain_started(rt, job_id)
    while counts["batches"] < DRAIN_BATCHES:
        batch_id = todo.pop(0) if todo else ingest.take(rt, job_id)
        if batch_id is None:
            return counts
        done = intake.process_batch(rt, batch_id)
        ingest.finished(rt, batch_id)
        counts["batches"] += 1
        counts["alerts"] += done["alerts"]
        counts["unmatched"] += done["unmatched"]
    ingest.ensure_drainer(rt)  # more may wait: a fresh job, behind the lanes served before intake
    return counts


def execute_step(run_id: str, index: int) -> str:
    """Run one playbook step."""
    return steps.execute_step(runtime.current(), run_id, index)


def step_job_failed(
    job: Job, connection: Redis, exc_type: type[BaseException], exc: BaseException, tb: TracebackType
) -> None:
    """RQ's failure callback for step jobs: once RQ will not run the job again, fail the run."""
    if job.retries_left:
        return  # RQ runs it again after its backoff
    run_id, index = job.args
    steps.job_failed(runtime.current(), run_id, index, f"{exc_type.__name__}: {exc}")


def escalate(incident_id: str, level: int, token: str, due_at: float | None = None) -> str:
    """An escalation timer firing."""
    return timers.fire(runtime.current(), incident_id, level, token, due_at)


def paging_update(incident_id: str, kind: str, by: str | None) -> list[dict[str, Any]]:
    """After ack or resolve: edit Slack, acknowledge or resolve PagerDuty, send the email update."""
    rt = runtime.current()
    incident = store.get(rt.redis, rt.keys, incident_id)
    return paging.update(rt, incident, "ack" if kind == "ack" else "resolve", by)


def deliver_pending(incident_id: str, channel: str, target: str) -> str:
    """Send a target's deliveries that a rate limit held back, once its Retry-After has passed."""
    return paging.deliver_pending(runtime.current(), incident_id, channel, target)


def slack_action(click: dict[str, Any]) -> str:
    """A verified Slack button click (``POST /slack/interactions``), done off the request:
    who may click is checked here, with Slack's API at hand (:mod:`responder.incidents.clicks`)."""
    return clicks.handle(runtime.current(), SlackAction.from_job(click))


def approval_expired(run_id: str, index: int) -> str:
    """A step's wait for approval ran out (1h): end the run if it still waits."""
    return approval.expire(runtime.current(), run_id, index)


def verify_run_ended(run_id: str, escalated: bool, why: str = "") -> str:
    """A run of an incident with a verification loop ended: count it off, or end the loop."""
    return verification.run_ended(runtime.current(), run_id, escalated, why)


def verify_check(incident_id: str, token: str, due_at: float | None = None) -> str:
    """A verification's check is due: ask Alertmanager whether the incident's alerts still fire."""
    return verification.check(runtime.current(), incident_id, token, due_at)


DASHBOARD_SILENCE = 3600.0
"""Seconds the dashboard's "Silence 1h" button silences for."""


def dashboard_silence(incident_id: str, by: str) -> str:
    """The dashboard's "Silence 1h" click, done off the request: it calls Alertmanager.

    The outcome is in the incident's timeline (``silence.created`` or ``silence.failed``);
    a failure is not retried by RQ, the user clicks again.
    """
    rt = runtime.current()
    try:
        ids = silencing.silence_incident(rt, incident_id, DASHBOARD_SILENCE, by, via="the dashboard")
    except IncidentNotFound:
        return "unknown incident"
    except ActionError as exc:
        return f"failed: {exc}"
    return f"silenced {', '.join(ids)}" if ids else "unchanged"


def heartbeat_check() -> str:
    """Is the heartbeat alert still arriving? Opens or resolves "alerting pipeline silent"."""
    return heartbeat.check(runtime.current())
