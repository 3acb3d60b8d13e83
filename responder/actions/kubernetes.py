"""``kubernetes.*`` actions: what on-call would do with kubectl, through the official client.

Each action does what its kubectl command does and sends the same request kubectl sends:

- ``rollout_restart``: ``kubectl rollout restart`` (strategic merge patch of the
  ``kubectl.kubernetes.io/restartedAt`` pod template annotation);
- ``scale``: ``kubectl scale`` (merge patch of the ``scale`` subresource);
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
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_TOKEN_FILENAME
from pydantic import Field, model_validator

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.config.durations import format_duration
from responder.errors import ActionError, ActionRefused

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
FIELD_MANAGER = "alert-responder"
"""Sent with every change (as kubectl sends kubectl-rollout, kubectl-set...), so the object's
managedFields say the responder made it."""

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
_POLL_FIRST = 0.2
_POLL_MAX = 2.0
"""wait_rollout polls quickly at first (most rollouts of a few pods take seconds), then backs off."""

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# An image reference as Docker's distribution/reference grammar has it:
# [registry[:port]/]path[:tag][@digest], lowercase path components.
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


# --- parameters ----------------------------------------------------------------------------


class DeploymentParams(Params):
    """A Deployment to act on."""

    namespace: str = Field(
        description="Namespace of the Deployment; must be in `kubernetes.allowed_namespaces`."
    )
    deployment: str = Field(description="Name of the Deployment (a DNS-1123 name, checked after rendering).")


class RolloutRestartParams(DeploymentParams):
    """``kubernetes.rollout_restart``: replace every pod of the Deployment, rolling."""


class ScaleParams(DeploymentParams):
    """``kubernetes.scale``: set the Deployment's replicas, absolutely or relatively, within bounds."""

    replicas: int | None = Field(
        default=None, ge=0, description="Number of replicas to set (give this or `by`)."
    )
    by: int | None = Field(
        default=None,
        description="Change relative to the current replicas, e.g. 2 or -1 (give this or `replicas`).",
    )
    min: int | None = Field(default=None, ge=0, description="Never scale below this many replicas.")
    max: int | None = Field(default=None, ge=0, description="Never scale above this many replicas.")

    @model_validator(mode="after")
    def _one_target(self) -> ScaleParams:
        if (self.replicas is None) == (self.by is None):
            raise ValueError("give exactly one of `replicas` or `by`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"`min` ({self.min}) is greater than `max` ({self.max})")
        return self


class SetImageParams(DeploymentParams):
    """``kubernetes.set_image``: change the image of one container of the Deployment's pods."""

    container: str = Field(description="Name of the container (or init container) in the pod template.")
    image: str = Field(description="Image reference to run, e.g. `paperless-maverick:previous-stable`.")


class RollbackParams(DeploymentParams):
    """``kubernetes.rollback``: go back to an earlier revision's pod template."""

    to_revision: int | None = Field(
        default=None, ge=1, description="Revision to return to; default the one before the current."
    )


class WaitRolloutParams(DeploymentParams):
    """``kubernetes.wait_rollout``: wait, up to the step's timeout, until the Deployment is rolled out."""


# --- credentials, loaded once per process ----------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def load_client(context: str | None = None) -> Any:
    """The process's ``kubernetes.client.ApiClient``: built on first use, then reused.

    Keyed by ``KUBECONFIG`` and ``context``, so a changed kubeconfig path gets a new client.

    Raises:
        ActionError: no credentials could be loaded (not retryable).
    """
    key = (os.environ.get("KUBECONFIG", ""), context or "")
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _new_client(*key)
        return _clients[key]


def reset_client() -> None:
    """Forget the loaded credentials (after a kubeconfig change, and between tests)."""
    with _clients_lock:
        for api_client in _clients.values():
            api_client.close()
        _clients.clear()


def _new_client(kubeconfig: str, context: str) -> Any:
    configuration = k8s.Configuration()
    in_cluster = os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(SERVICE_TOKEN_FILENAME)
    try:
        if in_cluster and not kubeconfig:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=kubeconfig or os.path.expanduser("~/.kube/config"),
                context=context or None,
                client_configuration=configuration,
            )
    except (ConfigException, OSError) as exc:
        raise ActionError(
            f"cannot load Kubernetes credentials: {exc}; run the worker in a pod with the alert-responder "
            "service account (deploy/rbac.yaml) or set KUBECONFIG",
            retryable=False,
        ) from exc
    # urllib3 would retry a timed-out GET three more times, stretching a step past its timeout.
    # Retry only failures to connect (nothing was sent); the step's own retries handle the rest.
    configuration.retries = urllib3.util.Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0)
    return k8s.ApiClient(configuration)


# --- safety ----------------------------------------------------------------------------------


def _check_name(param: str, value: str, pattern: re.Pattern[str], limit: int, kind: str) -> None:
    if len(value) > limit or not pattern.match(value):
        raise ActionRefused(
            f"refused: parameter `{param}` is {json.dumps(value)}, not a valid Kubernetes name ({kind}: "
            f'lowercase letters, digits and "-", starting and ending with a letter or digit, '
            f"at most {limit} characters); nothing was sent"
        )


def _check_target(params: DeploymentParams, ctx: ActionContext) -> None:
    """Refuse unsafe parameters before anything is sent (raises ActionRefused)."""
    _check_name("namespace", params.namespace, _DNS1123_LABEL, 63, "DNS-1123 label")
    _check_name("deployment", params.deployment, _DNS1123_SUBDOMAIN, 253, 'DNS-1123 subdomain, "." allowed')
    allowed = ctx.config.responder.kubernetes.allowed_namespaces
    if params.namespace not in allowed:
        listed = ", ".join(allowed) if allowed else "none"
        raise ActionRefused(
            f"refused: parameter `namespace` is {json.dumps(params.namespace)}, which is not in "
            f"kubernetes.allowed_namespaces ({listed}); add it in responder.yaml to allow actions there; "
            "nothing was sent"
        )


# --- API calls -------------------------------------------------------------------------------


class _Deployment:
    """The API calls on one Deployment, with failures turned into ActionErrors that say what to do."""

    def __init__(self, params: DeploymentParams, ctx: ActionContext) -> None:
        _check_target(params, ctx)
        self.namespace = params.namespace
        self.name = params.deployment
        self.ref = f"{params.namespace}/{params.deployment}"
        self.timeout = ctx.timeout if ctx.timeout > 0 else None
        # The runner folds global and per-rule dry run into ctx.dry_run; the global switch is
        # checked here too, so a cluster is never changed while responder.yaml says dry run.
        self.dry = ctx.dry_run or ctx.config.responder.safety.dry_run
        self.dry_run = "All" if self.dry else None
        self.apps = k8s.AppsV1Api(load_client(ctx.config.responder.kubernetes.context))

    def get(self, timeout: float | None = None) -> dict[str, Any]:
        return self._call(
            "get",
            "deployments",
            lambda: self.apps.read_namespaced_deployment(
                self.name, self.namespace, _preload_content=False, _request_timeout=timeout or self.timeout
            ),
        )

    def patch(self, body: Any, content_type: str) -> dict[str, Any]:
        return self._call(
            "patch",
            "deployments",
            lambda: self.apps.patch_namespaced_deployment(
                self.name,
                self.namespace,
                body,
                dry_run=self.dry_run,
                field_manager=FIELD_MANAGER,
                _content_type=content_type,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def get_scale(self) -> dict[str, Any]:
        return self._call(
            "get",
            "deployments/scale",
            lambda: self.apps.read_namespaced_deployment_scale(
                self.name, self.namespace, _preload_content=False, _request_timeout=self.timeout
            ),
        )

    def patch_scale(self, body: dict[str, Any]) -> dict[str, Any]:
        # kubectl scale sends a merge patch; the client would default to a strategic merge.
        return self._call(
            "patch",
            "deployments/scale",
            lambda: self.apps.patch_namespaced_deployment_scale(
                self.name,
                self.namespace,
                body,
                dry_run=self.dry_run,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def list_replicasets(self, selector: str) -> list[dict[str, Any]]:
        answer = self._call(
            "list",
            "replicasets",
            lambda: self.apps.list_namespaced_replica_set(
                self.namespace, label_selector=selector, _preload_content=False, _request_timeout=self.timeout
            ),
        )
        return list(answer.get("items") or [])

    def _call(self, verb: str, resource: str, request: Callable[[], Any]) -> dict[str, Any]:
        try:
            response = request()
        except ApiException as exc:
            raise self._api_error(exc, verb, resource) from exc
        except urllib3.exceptions.HTTPError as exc:  # connection refused, reset, timed out
            raise ActionError(
                f"could not {verb} {resource} {self.ref}: the Kubernetes API did not answer ({exc}); "
                "will retry"
            ) from exc
        answer: dict[str, Any] = json.loads(response.data)
        return answer

    def _api_error(self, exc: ApiException, verb: str, resource: str) -> ActionError:
        status = exc.status or 0
        try:
            message = json.loads(exc.body or "{}").get("message") or exc.reason
        except ValueError:
            message = exc.body or exc.reason
        if status == 404 and resource.startswith("deployments"):
            return ActionError(f"deployment {self.ref} not found", retryable=False)
        if status == 403:
            return ActionError(
                f"forbidden: the service account cannot {verb} {resource} in namespace {self.namespace}; "
                "see deploy/rbac.yaml",
                retryable=False,
            )
        if status == 401:
            return ActionError(
                f"unauthorized: the Kubernetes API rejected the responder's credentials ({message}); "
                "check the service account token or kubeconfig",
                retryable=False,
            )
        if status == 409:
            return ActionError(
                f"conflict: deployment {self.ref} changed while being updated ({message}); will retry"
            )
        if status in (0, 429) or status >= 500:
            return ActionError(
                f"could not {verb} {resource} {self.ref}: Kubernetes API error {status}: {message}"
            )
        return ActionError(
            f"the Kubernetes API refused to {verb} {resource} {self.ref} ({status}): {message}",
            retryable=False,
        )


def _paused_refusal(dep: _Deployment, doing: str) -> ActionError:
    return ActionError(
        f"cannot {doing} deployment {dep.ref}: it is paused, as kubectl would refuse too; resume it first "
        f"(kubectl -n {dep.namespace} rollout resume deployment/{dep.name})",
        retryable=False,
    )


def _would(dep: _Deployment, done: str, would: str) -> str:
    return would if dep.dry else done


# --- the actions ---------------------------------------------------------------------------


def rollout_restart(params: RolloutRestartParams, ctx: ActionContext) -> Outcome:
    """Replace every pod, rolling, as ``kubectl rollout restart`` does."""
    dep = _Deployment(params, ctx)
    current = dep.get()
    if current["spec"].get("paused"):
        raise _paused_refusal(dep, "restart")
    restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, as kubectl writes it
    dep.patch(
        {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}},
        STRATEGIC_MERGE_PATCH,
    )
    replicas = current["spec"].get("replicas", 1)
    return Outcome(
        f"{_would(dep, 'restarted', 'would restart')} deployment {dep.ref} ({replicas} replicas, rolling)",
        {
            "namespace": dep.namespace,
            "deployment": dep.name,
            "restartedAt": restarted_at,
            "dry_run": dep.dry,
        },
    )


def scale(params: ScaleParams, ctx: ActionContext) -> Outcome:
    """Set replicas through the scale subresource, as ``kubectl scale`` does; ``by`` is relative."""
    dep = _Deployment(params, ctx)
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
            f"{_would(dep, 'left', 'would leave')} deployment {dep.ref} at {current} replicas{bounds}: "
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
        f"{_would(dep, 'scaled', 'would scale')} deployment {dep.ref} "
        f"from {current} to {target} replicas{bounds}",
        details,
    )


def set_image(params: SetImageParams, ctx: ActionContext) -> Outcome:
    """Change one container's image, as ``kubectl set image`` does."""
    dep = _Deployment(params, ctx)
    _check_name("container", params.container, _DNS1123_LABEL, 63, "DNS-1123 label")
    if len(params.image) > 4096 or not _IMAGE.match(params.image):
        raise ActionRefused(
            f"refused: parameter `image` is {json.dumps(params.image)}, not a valid image reference "
            "(like registry.example.com/team/app:1.2.3); nothing was sent"
        )
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
            f"{_would(dep, 'changed nothing', 'would change nothing')}: container {params.container} "
            f"of deployment {dep.ref} already runs {old}",
            details,
        )
    dep.patch(
        {"spec": {"template": {"spec": {field: [{"name": params.container, "image": params.image}]}}}},
        STRATEGIC_MERGE_PATCH,
    )
    return Outcome(
        f"{_would(dep, 'set', 'would set')} image of container {params.container} in deployment {dep.ref} "
        f"to {params.image} (was {old})",
        details,
    )


def rollback(params: RollbackParams, ctx: ActionContext) -> Outcome:
    """Return to an earlier revision's pod template, as ``kubectl rollout undo`` does."""
    dep = _Deployment(params, ctx)
    current = dep.get()
    if current["spec"].get("paused"):
        raise _paused_refusal(dep, "roll back")
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
            f"{_would(dep, 'skipped', 'would skip')} rollback of deployment {dep.ref}: "
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
        f"{_would(dep, 'rolled back', 'would roll back')} deployment {dep.ref} from revision {latest} "
        f"to revision {to} ({changes})",
        details,
    )


def wait_rollout(params: WaitRolloutParams, ctx: ActionContext) -> Outcome:
    """Wait until the rollout is complete, as ``kubectl rollout status`` does, up to ``ctx.timeout``."""
    dep = _Deployment(params, ctx)
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


# --- helpers -----------------------------------------------------------------------------------


def _rollout_state(dep: _Deployment, deployment: dict[str, Any]) -> tuple[bool, str]:
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
