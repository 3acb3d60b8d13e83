"""``kubernetes.wait_rollout``: wait as ``kubectl rollout status`` does, bounded by the step's timeout."""

from __future__ import annotations

import time
from typing import Any

from responder.actions.base import ActionContext, Outcome
from responder.actions.kubernetes.client import Deployment
from responder.actions.kubernetes.params import WaitRolloutParams
from responder.config.durations import format_duration
from responder.errors import ActionError

_POLL_FIRST = 0.2
_POLL_MAX = 2.0
"""wait_rollout polls quickly at first (most rollouts of a few pods take seconds), then backs off."""


def wait_rollout(params: WaitRolloutParams, ctx: ActionContext) -> Outcome:
    """Wait until the rollout is complete, as ``kubectl rollout status`` does, up to ``ctx.timeout``."""
    dep = Deployment(params, ctx)
    started = time.monotonic()
    deadline = started + ctx.timeout
    if dep.dry:  # nothing was changed, so there is nothing to wait for; say where it stands
        done, state = _rollout_state(dep, dep.get())
        return Outcome(
            f"would wait up to {format_duration(ctx.timeout)} for deployment {dep.ref} to roll out "
            f"(now: {state})",
            {"namespace": dep.namespace, "deployment": dep.name, "state": state, "dry_run": True},
        )
    pause = _POLL_FIRST
    state = "not read yet"
    while True:
        remaining = deadline - time.monotonic()
        try:
            done, state = _rollout_state(dep, dep.get(timeout=max(remaining, 0.1)))
        except ActionError as exc:
            if not exc.retryable:
                raise
            state = f"last read failed: {exc}"  # an API blip is not a failed rollout; keep polling
            done = False
        if done:
            return Outcome(
                f"deployment {dep.ref} rolled out: {state}",
                {
                    "namespace": dep.namespace,
                    "deployment": dep.name,
                    "state": state,
                    "waited_seconds": round(time.monotonic() - started, 3),
                },
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # Not retryable: the step's timeout is the bound the author chose; to wait longer, raise it.
            raise ActionError(
                f"timed out after {format_duration(ctx.timeout)} waiting for deployment {dep.ref} "
                f"to roll out; last state: {state}",
                retryable=False,
            )
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, _POLL_MAX)


def _rollout_state(dep: Deployment, deployment: dict[str, Any]) -> tuple[bool, str]:
    """Whether the rollout is complete, and its state in words (kubectl rollout status's checks)."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = spec.get("replicas", 1)
    generation = deployment["metadata"].get("generation", 0)
    observed = status.get("observedGeneration", 0)
    updated, ready = status.get("updatedReplicas", 0), status.get("readyReplicas", 0)
    available, total = status.get("availableReplicas", 0), status.get("replicas", 0)
    counts = f"desired {desired}, updated {updated}, ready {ready}, available {available}, total {total}"
    if observed < generation:
        return False, f"spec update not observed yet (generation {generation}, observed {observed}; {counts})"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise ActionError(
                f"deployment {dep.ref} exceeded its progress deadline ({counts}): "
                f"{condition.get('message', 'no message')}; look at its pods and events",
                retryable=False,
            )
    if updated < desired:
        waiting = f"{updated} of {desired} new replicas updated"
    elif total > updated:
        waiting = f"{total - updated} old replicas pending termination"
    elif available < updated:
        waiting = f"{available} of {updated} updated replicas available"
    elif ready < desired:
        waiting = f"{ready} of {desired} replicas ready"
    else:
        return True, f"{desired} of {desired} replicas updated, ready and available"
    if spec.get("paused"):
        raise ActionError(
            f"deployment {dep.ref} is paused, so its rollout will not progress ({waiting}; {counts}); "
            f"resume it (kubectl -n {dep.namespace} rollout resume deployment/{dep.name})",
            retryable=False,
        )
    return False, f"{waiting} ({counts})"
