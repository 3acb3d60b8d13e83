"""``kubernetes.*`` actions: what on-call would do with kubectl, through the official client.

Each action does what its kubectl command does and sends the same request kubectl sends:

- ``rollout_restart``: ``kubectl rollout restart`` (strategic merge patch of the
  ``kubectl.kubernetes.io/restartedAt`` pod template annotation);
- ``scale``: ``kubectl scale`` (merge patch of the ``scale`` subresource); a Deployment driven
  by an HPA or a KEDA ScaledObject is refused, or scaled through its autoscaler
  (``autoscaler: adjust``, undone by ``autoscaler: restore``);
- ``set_image``: ``kubectl set image`` (strategic merge patch of one container);
- ``rollback``: ``kubectl rollout undo`` (JSON patch replacing the pod template with an
  older ReplicaSet's; a strategic merge would merge the templates instead of restoring one);
- ``wait_rollout``: ``kubectl rollout status``, polling, bounded by the step's timeout.

Safety, before anything is sent: the namespace must be in ``kubernetes.allowed_namespaces``
and every name a valid DNS-1123 name (checked on the rendered values, so a label value such
as ``x; rm -rf /`` is refused, never sent). In dry run, changes go to the API server with
``dryRun=All``: it validates and admits them, and stores nothing.

Credentials are loaded once per process (:func:`load_client`): ``KUBECONFIG`` when it is
set (as kubectl does), else the in-cluster service account, else ``~/.kube/config``;
``kubernetes.context`` in responder.yaml picks a kubeconfig context.

The package: :mod:`.params` (what steps give), :mod:`.safety` (checks before sending),
:mod:`.client` (credentials and API calls, errors that say what to do), :mod:`.deployments`
(restart, set image, rollback), :mod:`.scaling` (scale) with :mod:`.autoscalers` (finding a
Deployment's HPA or ScaledObject), :mod:`.adjust` (refuse, adjust, restore them) and
:mod:`.gitops` (Argo CD and Flux ownership warnings), and :mod:`.rollout` (wait).
"""

from __future__ import annotations

from typing import Any

from responder.actions.base import Action
from responder.actions.kubernetes.client import (
    FIELD_MANAGER,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    load_client,
    reset_client,
)
from responder.actions.kubernetes.deployments import (
    POD_TEMPLATE_HASH,
    RESTARTED_AT,
    REVISION,
    rollback,
    rollout_restart,
    set_image,
)
from responder.actions.kubernetes.params import (
    DeploymentParams,
    RollbackParams,
    RolloutRestartParams,
    ScaleParams,
    SetImageParams,
    WaitRolloutParams,
)
from responder.actions.kubernetes.rollout import wait_rollout
from responder.actions.kubernetes.scaling import scale

ACTIONS: list[Action[Any]] = [
    Action(
        "kubernetes.rollout_restart",
        RolloutRestartParams,
        rollout_restart,
        "Rolling restart of a Deployment's pods (kubectl rollout restart).",
    ),
    Action(
        "kubernetes.scale",
        ScaleParams,
        scale,
        "Set a Deployment's replicas, absolute or relative, within min/max (kubectl scale).",
    ),
    Action(
        "kubernetes.set_image",
        SetImageParams,
        set_image,
        "Change the image of one container of a Deployment (kubectl set image).",
    ),
    Action(
        "kubernetes.rollback",
        RollbackParams,
        rollback,
        "Roll a Deployment back to the previous or a given revision (kubectl rollout undo).",
    ),
    Action(
        "kubernetes.wait_rollout",
        WaitRolloutParams,
        wait_rollout,
        "Wait, up to the step's timeout, until a Deployment is rolled out (kubectl rollout status).",
    ),
]

__all__ = [
    "ACTIONS",
    "FIELD_MANAGER",
    "JSON_PATCH",
    "MERGE_PATCH",
    "POD_TEMPLATE_HASH",
    "RESTARTED_AT",
    "REVISION",
    "STRATEGIC_MERGE_PATCH",
    "DeploymentParams",
    "RollbackParams",
    "RolloutRestartParams",
    "ScaleParams",
    "SetImageParams",
    "WaitRolloutParams",
    "load_client",
    "reset_client",
    "rollback",
    "rollout_restart",
    "scale",
    "set_image",
    "wait_rollout",
]
