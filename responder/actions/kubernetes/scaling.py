"""``kubernetes.scale``: replicas through the scale subresource, as ``kubectl scale`` sets them.

Before scaling it reads the Deployment and looks for the autoscalers that drive it
(:mod:`.autoscalers`). Without one, it merge-patches the ``scale`` subresource as ``kubectl
scale`` does. With one, what happens is the step's ``autoscaler`` (:mod:`.adjust`): ``refuse``
(the default) fails before any PATCH, ``adjust`` changes the autoscaler so the replicas hold,
``restore`` puts back what the last adjust changed. A Deployment applied by Argo CD or Flux
gets a warning in the outcome (:mod:`.gitops`).
"""

from __future__ import annotations

from typing import Any

from responder.actions.base import ActionContext, Outcome
from responder.actions.kubernetes import adjust, autoscalers, gitops
from responder.actions.kubernetes.client import Deployment
from responder.actions.kubernetes.params import ScaleParams


def scale(params: ScaleParams, ctx: ActionContext) -> Outcome:
    """Set replicas (absolute, or relative with ``by``), through the Deployment's autoscaler if asked."""
    dep = Deployment(params, ctx)
    deployment = dep.get()
    found = autoscalers.find(dep)
    if params.autoscaler == "restore":
        return adjust.restore(dep, found)
    current = int(deployment["spec"].get("replicas", 1))  # the API server defaults an omitted count to 1
    target, note = _target(params, current)
    if found and params.autoscaler == "refuse":
        raise adjust.refusal(dep, found)
    if found:
        return adjust.adjust(dep, found, deployment, current, target, note)
    details = {
        "namespace": dep.namespace,
        "deployment": dep.name,
        "from": current,
        "to": target,
        "dry_run": dep.dry,
    }
    if target == current:
        return Outcome(
            f"{dep.did('left', 'would leave')} deployment {dep.ref} at {current} replicas{note}: "
            "nothing to scale",
            details,
        )
    body: dict[str, Any] = {"spec": {"replicas": target}}
    if params.by is not None:
        # A relative change is computed from what we read: guard it with resourceVersion (the scale
        # subresource shares the Deployment's), so if the replicas changed meanwhile the API answers
        # 409 and the step retries from the new value.
        body = {"metadata": {"resourceVersion": deployment["metadata"]["resourceVersion"]}, **body}
    dep.patch_scale(body)
    return gitops.outcome(
        f"{dep.did('scaled', 'would scale')} deployment {dep.ref} from {current} to {target} replicas{note}",
        details,
        gitops.warnings([(f"deployment {dep.ref}", deployment)]),
    )


def _target(params: ScaleParams, current: int) -> tuple[int, str]:
    """The replicas wanted, within ``min``/``max``, and a note saying how the bounds changed it."""
    wanted = params.replicas if params.replicas is not None else current + (params.by or 0)
    target = max(wanted, params.min or 0)
    if params.max is not None:
        target = min(target, params.max)
    if target == wanted:
        return target, ""
    asked = f"by {params.by:+d}" if params.by is not None else "asked"
    return target, f" ({asked} would be {wanted}; {'max' if target < wanted else 'min'} is {target})"
