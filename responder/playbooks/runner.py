"""Playbook runs: one RQ job per step, resumable, recorded in the incident's timeline.

A run is a Redis hash holding the step it is on. A step job does its action and then,
in one transaction, records the outcome, moves the run to the next step and enqueues
that step's job. So a worker killed mid-step leaves the run on that step: RQ's
abandoned-job cleanup re-enqueues the job and the run resumes there, and a completed
step is never run again.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rq import Retry

from responder import safety
from responder.actions import registry
from responder.actions.base import ActionContext
from responder.config.durations import format_duration
from responder.errors import ActionError, IncidentNotFound, TemplateError
from responder.playbooks import templating
from responder.redact import redact
from responder.store import incidents as store
from responder.store.codec import text

if TYPE_CHECKING:
    from redis.client import Pipeline
    from rq import Queue

    from responder.config.models import Playbook, Step
    from responder.runtime import Runtime
    from responder.store.keys import Keys

log = logging.getLogger(__name__)

EXECUTE_STEP = "responder.jobs.execute_step"
RUN_TTL = 30 * 86400
# Room for RQ to re-run a step whose worker died; failures are counted by us, not by RQ.
ABANDON_RETRIES = 3


def _backoff(retries: int) -> list[int]:
    return [min(2**i, 60) for i in range(retries + ABANDON_RETRIES)]


def enqueue_step(
    pipe: Pipeline, queue: Queue, run_id: str, index: int, step: Step, *, delay: float = 0
) -> None:
    kwargs: dict[str, Any] = {
        "args": (run_id, index),
        "timeout": int(step.timeout) + 10,
        "retry": Retry(max=step.retries + ABANDON_RETRIES, interval=_backoff(step.retries)),
        "result_ttl": 3600,
        "failure_ttl": 7 * 86400,
        "description": f"playbook run {run_id} step {index + 1}",
    }
    queue.enqueue_call(EXECUTE_STEP, pipeline=pipe, **kwargs)


def start_run(
    pipe: Pipeline,
    queue: Queue,
    keys: Keys,
    playbook: Playbook,
    incident_id: str,
    alert: dict[str, Any],
    *,
    trigger: str,
    dry_run: bool,
    now: float,
) -> str:
    """Create a run and enqueue its first step, in the caller's transaction."""
    run_id = uuid.uuid4().hex[:16]
    pipe.hset(
        keys.run(run_id),
        mapping={
            "id": run_id,
            "incident_id": incident_id,
            "playbook": playbook.name,
            "alert": json.dumps(alert),
            "trigger": trigger,
            "dry_run": int(dry_run),
            "status": "running",
            "step": 0,
            "created_at": now,
        },
    )
    pipe.expire(keys.run(run_id), RUN_TTL)
    store.add_event(
        pipe,
        keys,
        incident_id,
        "playbook.started",
        f"playbook {playbook.name} started ({trigger}{', dry run' if dry_run else ''})",
        at=now,
        run=run_id,
        playbook=playbook.name,
    )
    enqueue_step(pipe, queue, run_id, 0, playbook.steps[0])
    return run_id


def load_run(runtime: Runtime, run_id: str) -> dict[str, Any]:
    raw = runtime.redis.hgetall(runtime.keys.run(run_id))
    return {text(k): text(v) for k, v in raw.items()}


def execute_step(runtime: Runtime, run_id: str, index: int) -> str:
    """Run step ``index`` of a run. Returns a short status; raises to make RQ retry."""
    keys, redis = runtime.keys, runtime.redis
    run = load_run(runtime, run_id)
    if not run or run.get("status") != "running" or int(run["step"]) != index:
        return "stale"  # a duplicate delivery, or a run already moved on
    incident_id = run["incident_id"]
    playbook = runtime.config.playbooks.get(run["playbook"])
    try:
        incident = store.get(redis, keys, incident_id)
    except IncidentNotFound:
        return _finish(runtime, run, "failed", f"incident {incident_id} no longer exists")
    if playbook is None or index >= len(playbook.steps):
        return _fail(
            runtime, run, incident, index, f'playbook "{run["playbook"]}" is no longer in the config'
        )
    step = playbook.steps[index]
    label = f"{playbook.name} step {index + 1}/{len(playbook.steps)} ({step.action})"

    alert = json.loads(run["alert"])
    context = templating.template_context(alert, incident, runtime.config.responder.templates.env)
    if index == 0 and not run.get("target"):
        target = _target(playbook, context)
        holder = safety.acquire_playbook_lock(redis, keys, playbook, target, run_id)
        if holder is not None:
            return _finish(
                runtime,
                run,
                "skipped",
                f"playbook {playbook.name} not run: already running (run {holder})",
                release=False,
            )
        redis.hset(keys.run(run_id), "target", target)
        run["target"] = target

    if safety.is_paused(redis, keys):
        return _finish(runtime, run, "cancelled", f"{label} not run: automation is paused")

    try:
        if step.when is not None and not templating.evaluate_condition(step.when, context):
            return _advance(
                runtime,
                run,
                playbook,
                index,
                f"{label} skipped: condition `{step.when}` is false",
                outcome="skipped",
            )
    except TemplateError as exc:
        return _fail(runtime, run, incident, index, f"{label} failed: {exc}")

    if step.requires_approval and run.get(f"approved:{index}") is None:
        redis.hset(keys.run(run_id), "status", "awaiting_approval")
        message = f"{label} waits for approval"
        store.add_event(redis, keys, incident_id, "step.awaiting_approval", message, run=run_id, step=index)
        _notify_thread(runtime, incident, message, approval=f"{run_id}:{index}")
        return "awaiting approval"

    if not safety.take_budget(
        redis, keys, runtime.config.responder.safety.max_actions_per_hour, runtime.clock()
    ):
        limit = runtime.config.responder.safety.max_actions_per_hour
        reason = f"automation budget exhausted ({limit} actions/hour): {label} not run"
        _finish(runtime, run, "cancelled", reason)
        from responder.escalation import timers

        timers.escalate_now(runtime, incident_id, reason)
        return "budget exhausted"

    action = registry.get(step.action)
    secrets: tuple[str, ...] = ()  # the secret values this step used: redacted from all it records
    try:
        if action is None:
            raise ActionError(f'unknown action "{step.action}"', retryable=False)
        rendered = templating.render_step_params(step.action, step.with_, context, environ=os.environ)
        secrets = rendered.secrets
        params = action.params.model_validate(rendered.params)
        dry_run = runtime.config.responder.safety.dry_run or run.get("dry_run") == "1"
        ctx = ActionContext(
            redis=redis,
            keys=keys,
            config=runtime.config,
            incident=incident,
            alert=alert,
            dry_run=dry_run,
            timeout=step.timeout,
            run_id=run_id,
        )
        started = time.monotonic()
        outcome = action.run(params, ctx)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _fail(
            runtime,
            run,
            incident,
            index,
            f"{label} failed: bad parameters after rendering: {problems}",
            continue_on_error=step.continue_on_error,
            secrets=secrets,
        )
    except (ActionError, TemplateError) as exc:
        retryable = isinstance(exc, ActionError) and exc.retryable
        return _failed_attempt(runtime, run, incident, index, step, label, str(exc), retryable, secrets)
    except Exception as exc:
        reason = (
            f"timed out after {format_duration(step.timeout)}"
            if "Timeout" in type(exc).__name__
            else (f"{type(exc).__name__}: {exc}")
        )
        return _failed_attempt(runtime, run, incident, index, step, label, reason, True, secrets)
    took = time.monotonic() - started
    return _advance(
        runtime,
        run,
        playbook,
        index,
        f"{label}: {outcome.summary}",
        outcome="ok",
        details=outcome.details,
        took=round(took, 3),
        secrets=secrets,
    )


def _target(playbook: Playbook, context: dict[str, Any]) -> str:
    """The run's target (see safety.playbook_target); a step that does not render counts as-is."""
    steps = []
    for step in playbook.steps:
        try:
            params = templating.render_value(step.with_, context)
        except TemplateError:
            params = step.with_
        steps.append((step.action, params))
    return safety.playbook_target(steps)


def _failed_attempt(
    runtime: Runtime,
    run: dict[str, Any],
    incident: dict[str, Any],
    index: int,
    step: Step,
    label: str,
    reason: str,
    retryable: bool,
    secrets: tuple[str, ...] = (),
) -> str:
    reason = redact(reason, secrets)
    failures = runtime.redis.hincrby(runtime.keys.run(run["id"]), f"failures:{index}", 1)
    if retryable and failures <= step.retries:
        store.add_event(
            runtime.redis,
            runtime.keys,
            run["incident_id"],
            "step.retry",
            f"{label} attempt {failures} failed, retrying: {reason}",
            run=run["id"],
            step=index,
        )
        raise ActionError(reason)  # RQ re-runs the job after its backoff interval
    attempts = f" after {failures} attempts" if failures > 1 else ""
    return _fail(
        runtime,
        run,
        incident,
        index,
        f"{label} failed{attempts}: {reason}",
        continue_on_error=step.continue_on_error,
        secrets=secrets,
    )


def _advance(
    runtime: Runtime,
    run: dict[str, Any],
    playbook: Playbook,
    index: int,
    message: str,
    *,
    outcome: str,
    details: dict[str, Any] | None = None,
    took: float | None = None,
    secrets: tuple[str, ...] = (),
) -> str:
    keys = runtime.keys
    nxt = index + 1
    with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.multi()  # RQ's enqueue wants the transaction opened explicitly
        pipe.hset(keys.run(run["id"]), mapping={f"done:{index}": outcome, "step": nxt})
        extra: dict[str, Any] = {"run": run["id"], "step": index, "outcome": outcome}
        if details:
            extra["result"] = redact(details, secrets)
        if took is not None:
            extra["seconds"] = took
        store.add_event(pipe, keys, run["incident_id"], f"step.{outcome}", redact(message, secrets), **extra)
        if nxt < len(playbook.steps):
            enqueue_step(pipe, runtime.queue, run["id"], nxt, playbook.steps[nxt])
        else:
            pipe.hset(keys.run(run["id"]), "status", "completed")
            store.add_event(
                pipe,
                keys,
                run["incident_id"],
                "playbook.completed",
                f"playbook {playbook.name} completed",
                run=run["id"],
            )
        pipe.execute()
    if nxt >= len(playbook.steps):
        safety.release_playbook_lock(
            runtime.redis, keys, run["playbook"], run.get("target", "any"), run["id"]
        )
    return outcome


def _fail(
    runtime: Runtime,
    run: dict[str, Any],
    incident: dict[str, Any],
    index: int,
    message: str,
    *,
    continue_on_error: bool = False,
    secrets: tuple[str, ...] = (),
) -> str:
    message = redact(message, secrets)
    playbook = runtime.config.playbooks.get(run["playbook"])
    if continue_on_error and playbook is not None:
        return _advance(
            runtime, run, playbook, index, f"{message} (continuing: continue_on_error)", outcome="failed"
        )
    _finish(runtime, run, "failed", message, kind="step.failed")
    _notify_thread(runtime, incident, message)
    from responder.escalation import timers

    timers.escalate_now(runtime, run["incident_id"], message)
    return "failed"


def _finish(
    runtime: Runtime,
    run: dict[str, Any],
    status: str,
    message: str,
    *,
    kind: str | None = None,
    release: bool = True,
) -> str:
    keys = runtime.keys
    with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.run(run["id"]), "status", status)
        store.add_event(pipe, keys, run["incident_id"], kind or f"playbook.{status}", message, run=run["id"])
        pipe.execute()
    if release:
        safety.release_playbook_lock(
            runtime.redis, keys, run["playbook"], run.get("target", "any"), run["id"]
        )
    return status


def approve(runtime: Runtime, run_id: str, index: int, by: str) -> bool:
    """Approve a waiting step; returns False when the run is not waiting on it (double click).

    Under a lock: two approvals at once (a double click, Slack and the API) must not
    both find the step still waiting and run it twice.
    """
    with runtime.redis.lock(f"{runtime.keys.run(run_id)}:approving", timeout=30, blocking_timeout=30):
        return _approve(runtime, run_id, index, by)


def _approve(runtime: Runtime, run_id: str, index: int, by: str) -> bool:
    keys = runtime.keys
    run = load_run(runtime, run_id)
    if not run or run.get("status") != "awaiting_approval" or int(run["step"]) != index:
        return False
    playbook = runtime.config.playbooks.get(run["playbook"])
    if playbook is None:
        return False
    with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        pipe.hset(keys.run(run_id), mapping={f"approved:{index}": by, "status": "running"})
        store.add_event(
            pipe,
            keys,
            run["incident_id"],
            "step.approved",
            f"{playbook.name} step {index + 1} approved by {by}",
            run=run_id,
            step=index,
        )
        enqueue_step(pipe, runtime.queue, run_id, index, playbook.steps[index])
        pipe.execute()
    return True


def _notify_thread(
    runtime: Runtime, incident: dict[str, Any], message: str, approval: str | None = None
) -> None:
    from responder.escalation import paging
    from responder.notify.base import Approval

    button = None
    if approval is not None:
        run_id, index = approval.rsplit(":", 1)
        button = Approval(run_id, int(index))
    try:
        paging.note(runtime.redis, runtime.keys, runtime.config, incident, message, approval=button)
    except Exception:
        log.exception("could not post to the incident thread")
