"""``kubernetes.scale``: replicas through the scale subresource, as ``kubectl scale`` sets them."""

from __future__ import annotations

from typing import Any

from responder.actions.base import ActionContext, Outcome
from responder.actions.kubernetes.client import Deployment
from responder.actions.kubernetes.params import ScaleParams


def scale(params: ScaleParams, ctx: ActionContext) -> Outcome:
    """Set replicas through the scale subresource, as ``kubectl scale`` does; ``by`` is relative."""
    dep = Deployment(params, ctx)
    current_scale = dep.get_scale()
    current = int(current_scale.get("spec", {}).get("replicas", 0))  # omitted when 0
    wanted = params.replicas if params.replicas is not None else current + (params.by or 0)
    target = max(wanted, params.min or 0)
    if params.max is not None:
        target = min(target, params.max)
    bounds = ""
    if target != wanted:
        asked = f"by {params.by:+d}" if params.by is not None else "asked"
        bounds = f" ({asked} would be {wanted}; {'max' if target < wanted else 'min'} is {target})"
    details = {
        "namespace": dep.namespace,
        "deployment": dep.name,
        "from": current,
        "to": target,
        "dry_run": dep.dry,
    }
    if target == current:
        return Outcome(
            f"{dep.did('left', 'would leave')} deployment {dep.ref} at {current} replicas{bounds}: "
            "nothing to scale",
            details,
        )
    body: dict[str, Any] = {"spec": {"replicas": target}}
    if params.by is not None:
        # A relative change is computed from what we read: guard it with resourceVersion, so if
        # the replicas changed meanwhile the API answers 409 and the step retries from the new value.
        body = {"metadata": {"resourceVersion": current_scale["metadata"]["resourceVersion"]}, **body}
    dep.patch_scale(body)
    return Outcome(
        f"{dep.did('scaled', 'would scale')} deployment {dep.ref} "
        f"from {current} to {target} replicas{bounds}",
        details,
    )
