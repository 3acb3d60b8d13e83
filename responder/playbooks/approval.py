"""Approving a step that waits for it (``requires_approval``), or confirming a run that waits for a
Run click (``automation: confirm``), from Slack, the dashboard, the API or the CLI; and its expiry.

A confirmation is the approval of the run's first step: the same lock, gate, expiry and
refusal, recorded as ``run.confirmed``. A wait lasts
:data:`responder.playbooks.gates.APPROVAL_WAIT` (1h). When a run starts waiting,
:func:`responder.playbooks.runs.schedule_expiry` queues a job for the moment it runs out: if nobody
approved by then, :func:`expire` ends the run (``approval.expired``), so no run sits in
``awaiting_approval`` for the 30 days a run is kept. An approval that comes too late, or
after the incident resolved, is refused and recorded (``approval.refused``) whoever sends
it: API-token holders too. Whether an approval is taken is decided by the pure gate
:func:`responder.playbooks.gates.decide_approval`; this module does what it says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from responder.errors import ApprovalRefused
from responder.playbooks import gates
from responder.playbooks.runs import enqueue_step, schedule_expiry_at, tell_loop
from responder.store import guards, runs
from responder.store import incidents as store
from responder.store.records import Event, Run, RunStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 30


def approve(
    rt: Runtime, run_id: str, index: int, by: str, *, details: Mapping[str, Any] | None = None
) -> bool:
    """Approve a waiting step; False when the run is not waiting on it (a double click).

    ``details`` go into the timeline entry beside ``by`` (the Slack user id of a click).
    Under a lock: two approvals at once (a double click, Slack and the API) must not both
    find the step still waiting and run it twice.

    Raises:
        ApprovalRefused: the wait expired or the incident resolved; recorded in the timeline,
            and a run still waiting is ended.
    """
    with rt.redis.lock(rt.keys.run_approving(run_id), timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT):
        run = runs.load(rt.redis, rt.keys, run_id)
        playbook = rt.config.playbooks.get(run.playbook) if run is not None else None
        if run is None or playbook is None or index >= len(playbook.steps):
            return False
        now = rt.clock()
        incident = store.find(rt.redis, rt.keys, run.incident_id)
        who = {"by": by, **(details or {})}
        verdict = gates.decide_approval(run, index, incident, now)
        if isinstance(verdict, gates.NotWaiting):
            return False
        if isinstance(verdict, gates.ApprovalExpired | gates.ApprovalRefused):
            _refuse(rt, run, index, now, verdict, who, recorded=incident is not None)
            raise ApprovalRefused(verdict.message)
        with rt.redis.pipeline(transaction=True) as pipe:
            pipe.multi()
            runs.approve(pipe, rt.keys, run_id, index, by)
            if gates.confirms(run, index):
                kind, what = (
                    "run.confirmed",
                    f"playbook {playbook.name} (run {run_id}) confirmed by {by}: it runs now",
                )
            else:
                kind, what = "step.approved", f"{playbook.name} step {index + 1} approved by {by}"
            event = Event(now, kind, what, {"run": run_id, "step": index, **who})
            store.add_event(pipe, rt.keys, run.incident_id, event)
            enqueue_step(pipe, rt, run_id, index, playbook.steps[index])
            pipe.execute()
        return True


def expire(rt: Runtime, run_id: str, index: int) -> str:
    """The scheduled end of a wait: end the run if it still waits on ``index`` and its time is up."""
    with rt.redis.lock(rt.keys.run_approving(run_id), timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT):
        run = runs.load(rt.redis, rt.keys, run_id)
        if run is None:
            return "gone"
        now = rt.clock()
        incident = store.find(rt.redis, rt.keys, run.incident_id)
        verdict = gates.decide_approval(run, index, incident, now)
        if isinstance(verdict, gates.Approvable):
            # Woken early (a clock step): look again at the deadline rather than leave the run waiting.
            with rt.redis.pipeline(transaction=True) as pipe:
                schedule_expiry_at(pipe, rt, run_id, index, gates.approval_deadline(run))
                pipe.execute()
            return "not yet"
        if not isinstance(verdict, gates.ApprovalExpired | gates.ApprovalRefused) or not verdict.ends_run:
            return "unchanged"
        with rt.redis.pipeline(transaction=True) as pipe:
            _end(pipe, rt, run, index, now, verdict.message, expired=incident is not None)
            pipe.execute()
        _release(rt, run)
    if incident is not None and incident.open:
        try:
            rt.note(incident, verdict.message)
        except Exception:  # telling the thread is a courtesy; the timeline has it
            log.exception("could not post the expired approval to the incident thread")
    return "expired"


def _refuse(
    rt: Runtime,
    run: Run,
    index: int,
    now: float,
    verdict: gates.ApprovalExpired | gates.ApprovalRefused,
    who: Mapping[str, Any],
    *,
    recorded: bool,
) -> None:
    """Record a refused approval (who tried, why); a run still waiting is ended with it.

    ``recorded`` False: the incident is gone (retention), and its timeline must not come back.
    """
    with rt.redis.pipeline(transaction=True) as pipe:
        if verdict.ends_run:
            expired = recorded and isinstance(verdict, gates.ApprovalExpired)
            _end(pipe, rt, run, index, now, verdict.message, expired=expired)
        if recorded:
            what = f"{run.playbook} run" if gates.confirms(run, index) else f"{run.playbook} step {index + 1}"
            refused = Event(
                now,
                "approval.refused",
                f"approval of {what} by {who['by']} refused: {verdict.message}",
                {"run": run.id, "step": index, **who},
            )
            store.add_event(pipe, rt.keys, run.incident_id, refused)
        pipe.execute()
    if verdict.ends_run:
        _release(rt, run)


def _end(
    pipe: Pipeline, rt: Runtime, run: Run, index: int, now: float, message: str, *, expired: bool
) -> None:
    """End a waiting run as cancelled; an expiry is recorded as ``approval.expired``."""
    runs.set_status(pipe, rt.keys, run.id, RunStatus.CANCELLED)
    run.status = RunStatus.CANCELLED
    tell_loop(pipe, rt, run, escalated=False, why=message)
    if expired:
        event = Event(now, "approval.expired", message, {"run": run.id, "step": index})
        store.add_event(pipe, rt.keys, run.incident_id, event)


def _release(rt: Runtime, run: Run) -> None:
    guards.release_playbook_lock(rt.redis, rt.keys, run.playbook, run.target or "any", run.id)
