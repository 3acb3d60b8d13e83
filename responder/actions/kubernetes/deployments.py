"""Changes to a Deployment's pod template: ``rollout_restart``, ``set_image`` and ``rollback``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from responder.actions.base import ActionContext, Outcome
from responder.actions.kubernetes.client import (
    JSON_PATCH,
    STRATEGIC_MERGE_PATCH,
    Deployment,
    paused_refusal,
)
from responder.actions.kubernetes.params import RollbackParams, RolloutRestartParams, SetImageParams
from responder.actions.kubernetes.safety import DNS1123_LABEL, check_image, check_name
from responder.errors import ActionError

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"

# Annotations `kubectl rollout undo` keeps from the Deployment rather than copying from the
# ReplicaSet it rolls back to (kubectl's polymorphichelpers/rollback.go annotationsToSkip).
_ANNOTATIONS_KEPT_ON_ROLLBACK = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def rollout_restart(params: RolloutRestartParams, ctx: ActionContext) -> Outcome:
    """Replace every pod, rolling, as ``kubectl rollout restart`` does."""
    dep = Deployment(params, ctx)
    current = dep.get()
    if current["spec"].get("paused"):
        raise paused_refusal(dep, "restart")
    restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, as kubectl writes it
    dep.patch(
        {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}},
        STRATEGIC_MERGE_PATCH,
    )
    replicas = current["spec"].get("replicas", 1)
    return Outcome(
        f"{dep.did('restarted', 'would restart')} deployment {dep.ref} ({replicas} replicas, rolling)",
        {
            "namespace": dep.namespace,
            "deployment": dep.name,
            "restartedAt": restarted_at,
            "dry_run": dep.dry,
        },
    )


def set_image(params: SetImageParams, ctx: ActionContext) -> Outcome:
    """Change one container's image, as ``kubectl set image`` does."""
    dep = Deployment(params, ctx)
    check_name("container", params.container, DNS1123_LABEL, 63, "DNS-1123 label")
    check_image(params.image)
    pod_spec = dep.get()["spec"]["template"]["spec"]
    found = next(
        (
            (field, container)
            for field in ("containers", "initContainers")
            for container in pod_spec.get(field) or []
            if container["name"] == params.container
        ),
        None,
    )
    if found is None:
        names = ", ".join(c["name"] for c in pod_spec.get("containers") or [])
        inits = ", ".join(c["name"] for c in pod_spec.get("initContainers") or [])
        raise ActionError(
            f'deployment {dep.ref} has no container "{params.container}"; its containers are: {names}'
            + (f" (init containers: {inits})" if inits else ""),
            retryable=False,
        )
    field, container = found
    old = container.get("image", "")
    details = {
        "namespace": dep.namespace,
        "deployment": dep.name,
        "container": params.container,
        "from": old,
        "to": params.image,
        "dry_run": dep.dry,
    }
    if old == params.image:
        return Outcome(
            f"{dep.did('changed nothing', 'would change nothing')}: container {params.container} "
            f"of deployment {dep.ref} already runs {old}",
            details,
        )
    dep.patch(
        {"spec": {"template": {"spec": {field: [{"name": params.container, "image": params.image}]}}}},
        STRATEGIC_MERGE_PATCH,
    )
    return Outcome(
        f"{dep.did('set', 'would set')} image of container {params.container} in deployment {dep.ref} "
        f"to {params.image} (was {old})",
        details,
    )


def rollback(params: RollbackParams, ctx: ActionContext) -> Outcome:
    """Return to an earlier revision's pod template, as ``kubectl rollout undo`` does."""
    dep = Deployment(params, ctx)
    current = dep.get()
    if current["spec"].get("paused"):
        raise paused_refusal(dep, "roll back")
    uid = current["metadata"].get("uid")
    revisions: dict[int, dict[str, Any]] = {}
    for rs in dep.list_replicasets(_selector(current["spec"].get("selector") or {})):
        owner = next(
            (ref for ref in rs["metadata"].get("ownerReferences") or [] if ref.get("controller")), None
        )
        revision = (rs["metadata"].get("annotations") or {}).get(REVISION, "")
        if owner is not None and owner.get("uid") == uid and revision.isdigit():
            revisions[int(revision)] = rs
    if not revisions:
        raise ActionError(f"no rollout history found for deployment {dep.ref}", retryable=False)
    latest = max(revisions)
    if params.to_revision is not None:
        if params.to_revision not in revisions:
            listed = ", ".join(str(r) for r in sorted(revisions))
            raise ActionError(
                f"revision {params.to_revision} of deployment {dep.ref} not found; "
                f"its revisions are: {listed}",
                retryable=False,
            )
        to = params.to_revision
    else:
        older = [r for r in revisions if r < latest]
        if not older:
            raise ActionError(
                f"no previous revision of deployment {dep.ref} to roll back to: "
                f"revision {latest} is its only one",
                retryable=False,
            )
        to = max(older)
    template = _without_hash(revisions[to]["spec"]["template"])
    details: dict[str, Any] = {
        "namespace": dep.namespace,
        "deployment": dep.name,
        "from_revision": latest,
        "to_revision": to,
        "images": _images(template),
        "dry_run": dep.dry,
    }
    if template == _without_hash(current["spec"]["template"]):
        return Outcome(
            f"{dep.did('skipped', 'would skip')} rollback of deployment {dep.ref}: "
            f"its pod template already matches revision {to}",
            details,
        )
    annotations = {
        k: v
        for k, v in (current["metadata"].get("annotations") or {}).items()
        if k in _ANNOTATIONS_KEPT_ON_ROLLBACK
    }
    annotations.update(
        (k, v)
        for k, v in (revisions[to]["metadata"].get("annotations") or {}).items()
        if k not in _ANNOTATIONS_KEPT_ON_ROLLBACK
    )
    dep.patch(
        [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ],
        JSON_PATCH,
    )
    before, after = _images(current["spec"]["template"]), details["images"]
    changes = ", ".join(f"{name} {before.get(name, '(none)')} → {image}" for name, image in after.items())
    return Outcome(
        f"{dep.did('rolled back', 'would roll back')} deployment {dep.ref} from revision {latest} "
        f"to revision {to} ({changes})",
        details,
    )


def _selector(selector: dict[str, Any]) -> str:
    """A LabelSelector object as the query string the API takes."""
    terms = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        values = ",".join(expr.get("values") or [])
        terms.append(
            {
                "In": f"{expr['key']} in ({values})",
                "NotIn": f"{expr['key']} notin ({values})",
                "Exists": expr["key"],
                "DoesNotExist": f"!{expr['key']}",
            }[expr["operator"]]
        )
    return ",".join(terms)


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """A pod template without the pod-template-hash label the controller adds to ReplicaSets."""
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(POD_TEMPLATE_HASH, None)
    return template


def _images(template: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []}
