"""Executing one playbook step: read a snapshot, ask the gates, act, record the outcome.

:func:`execute_step` is the whole of a step job. It reads the run once
(:func:`snapshot`), lets :func:`responder.playbooks.gates.decide` say whether the step may
run, runs the action, and records what happened through :mod:`.outcomes`: the timeline,
the run's state and the next step's job land in one transaction. Failures are paged
through the runtime (:meth:`responder.runtime.Runtime.escalate_now`), never by importing
escalation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rq.timeouts import JobTimeoutException

from responder.actions import registry
from responder.actions.base import ActionContext
from responder.config.durations import format_duration
from responder.errors import ActionError, TemplateError
from responder.playbooks import gates, outcomes, templating
from responder.store import guards, runs
from responder.store import incidents as store
from responder.store import verification as loops
from responder.store.records import Incident, Run

if TYPE_CHECKING:
    from responder.config.models import Playbook
    from responder.runtime import Runtime


def execute_step(rt: Runtime, run_id: str, index: int) -> str:
    """Run step ``index`` of a run. Returns a short status; raises ActionError to make RQ retry."""
    snap = snapshot(rt, run_id, index)
    verdict = gates.decide(snap)
    match verdict:
        case gates.Stale():
            return "stale"
        case gates.Finish(status, message, release_lock):
            return outcomes.finish(rt, snap, status, message, release=release_lock)
        case gates.Fail(message):
            return outcomes.fail(rt, snap, message)
        case gates.Skip(message):
            return outcomes.advance(rt, snap, message, outcome="skipped")
        case gates.AwaitApproval(message):
            return outcomes.await_approval(rt, snap, message)
        case gates.BudgetSpent(message):
            return outcomes.budget_spent(rt, snap, message)
    return _act(rt, snap)


def snapshot(rt: Runtime, run_id: str, index: int) -> gates.StepSnapshot:
    """Everything the gates look at, read once: in two round trips (the run with the kill switch
    and the budget, then its incident with its verification loop's state).

    Its one write: the first step of a run claims the run's (playbook, target) lock, since
    claiming must be atomic; the gates then see who holds it.
    """
    now = rt.clock()
    limit = rt.config.responder.safety.max_actions_per_hour
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(rt.keys.run(run_id))
        pipe.exists(rt.keys.paused)
        pipe.get(rt.keys.budget(int(now // 3600)))
        raw_run, paused, used = pipe.execute()
    run = runs.decode(raw_run)
    if run is None or run.step != index:
        return gates.StepSnapshot(run, index, None, None, False, 0, limit)
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(rt.keys.incident(run.incident_id))
        loops.read_active(pipe, rt.keys, run.incident_id)
        raw_incident, loop_state = pipe.execute()
    incident = store.decode(raw_incident) if raw_incident else None
    playbook = rt.config.playbooks.get(run.playbook)
    context = templating.template_context(
        run.alert.to_webhook(), _incident_fields(incident), rt.config.responder.templates.env
    )
    holder = None
    if index == 0 and run.target is None and incident is not None and playbook is not None:
        holder = _claim_target(rt, run, playbook, context)
    return gates.StepSnapshot(
        run=run,
        index=index,
        incident=incident,
        playbook=playbook,
        paused=bool(paused),
        budget_used=int(used or 0),
        budget_limit=limit,
        lock_holder=holder,
        context=context,
        loop_active=loops.is_active(loop_state),
    )


def _incident_fields(incident: Incident | None) -> dict[str, Any]:
    if incident is None:
        return {}
    return {
        "id": incident.id,
        "key": incident.key,
        "severity": incident.severity,
        "rule": incident.rule,
        "status": incident.status.value,
    }


def _claim_target(rt: Runtime, run: Run, playbook: Playbook, context: dict[str, Any]) -> str | None:
    """Take the run's lock; returns the run holding it when that is another one."""
    steps = []
    for step in playbook.steps:
        try:
            params = templating.render_value(step.with_, context)
        except Exception:  # a step that does not render counts as written; it fails when it runs
            params = step.with_
        steps.append((step.action, params))
    target = guards.playbook_target(steps)
    holder = guards.claim_playbook_lock(rt.redis, rt.keys, playbook, target, run.id, rt.keys.run(run.id))
    if holder is None:
        run.target = target
    return holder


class _People:
    """What a ``notify`` step talks to: the incident's people, through the runtime."""

    def __init__(self, rt: Runtime, incident: Incident) -> None:
        self.rt, self.incident = rt, incident

    def note(self, text: str, channels: Sequence[str] | None) -> list[dict[str, Any]]:
        return self.rt.note(self.incident, text, channels)


def _act(rt: Runtime, snap: gates.StepSnapshot) -> str:
    run, step, incident = snap.run, snap.step, snap.incident
    assert run is not None and step is not None and incident is not None
    limit = snap.budget_limit
    if not guards.take_budget(rt.redis, rt.keys, limit, rt.clock()):
        return outcomes.budget_spent(rt, snap, gates.budget_message(snap))
    action = registry.get(step.action)
    if action is None:
        return outcomes.fail(rt, snap, f'{snap.label} failed: unknown action "{step.action}"')
    secrets: tuple[str, ...] = ()  # the secret values this step used: redacted from all it records
    try:
        rendered = templating.render_step_params(
            step.action, step.with_, snap.context or {}, environ=os.environ
        )
        secrets = rendered.secrets
        params = action.params.model_validate(rendered.params)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        message = f"{snap.label} failed: bad parameters after rendering: {problems}"
        return outcomes.fail(rt, snap, message, continue_on_error=step.continue_on_error, secrets=secrets)
    except TemplateError as exc:
        message = f"{snap.label} failed: {exc}"
        return outcomes.fail(rt, snap, message, continue_on_error=step.continue_on_error, secrets=secrets)
    ctx = ActionContext(
        redis=rt.redis,
        keys=rt.keys,
        config=rt.config,
        incident=incident,
        alert=run.alert,
        people=_People(rt, incident),
        dry_run=run.dry_run or rt.config.dry_run(),
        timeout=step.timeout,
        run_id=run.id,
        clock=rt.clock,
    )
    started = time.monotonic()
    try:
        outcome = action.run(params, ctx)
    except ActionError as exc:
        return outcomes.failed_attempt(rt, snap, str(exc), exc.retryable, secrets)
    except JobTimeoutException:
        timed_out = f"timed out after {format_duration(step.timeout)}"
        return outcomes.failed_attempt(rt, snap, timed_out, True, secrets)
    except Exception as exc:  # an action's unexpected error is a failed attempt, not a lost job
        return outcomes.failed_attempt(rt, snap, f"{type(exc).__name__}: {exc}", True, secrets)
    took = round(time.monotonic() - started, 3)
    summary = f"{snap.label}: {outcome.summary}"
    return outcomes.advance(
        rt, snap, summary, outcome="ok", details=outcome.details, took=took, secrets=secrets
    )


def job_failed(rt: Runtime, run_id: str, index: int, reason: str) -> str:
    """The last resort: a step job failed for good for a reason the step did not handle itself.

    Ends the run as failed, records it and escalates, as a failed step does; a run that
    already moved on or finished is left alone. Even a run whose record no longer reads
    (the reason the job kept failing) is ended from its raw fields.
    """
    try:
        snap = snapshot(rt, run_id, index)
    except Exception:
        return outcomes.fail_unreadable(rt, run_id, index, reason)
    if isinstance(gates.decide(snap), gates.Stale) or snap.incident is None:
        return "stale"
    return outcomes.fail(rt, snap, f"{snap.label} failed: its job failed unexpectedly: {reason}")
