"""The apps/v1 part of the fake API server: Deployments, their scale, ReplicaSets, and rollouts.

:class:`Deployments` answers ``GET``/``PATCH deployments/NAME`` (and ``/scale``) and ``GET
replicasets?labelSelector=``, and plays the deployment controller just enough: a changed pod
template gets a ReplicaSet with the next ``deployment.kubernetes.io/revision`` (an old
ReplicaSet with the same template is reused, as on a rollback), ``metadata.generation`` counts
spec changes, and a change is rolled out after ``rollout_reads`` API reads of the Deployment.
It also follows the autoscalers (:meth:`Deployments.autoscaled`): the HPA controller keeps the
replicas within the HPA's bounds, KEDA holds them at ``paused-replicas``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_api import (
    ApiError,
    apply_patch,
    check_dry_run,
    check_precondition,
    not_allowed,
    parse_selector,
)
from tests.fakes.kube_autoscaling import PAUSED_REPLICAS, targets

APPS = "/apis/apps/v1"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"

_DEPLOYMENT = re.compile(rf"^{APPS}/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)(?P<scale>/scale)?$")
_REPLICASETS = re.compile(rf"^{APPS}/namespaces/(?P<ns>[^/]+)/replicasets$")

# Status counters are `omitempty` in the API types: a zero never appears on the wire.
_OMIT_ZERO = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")


@dataclass
class _Rollout:
    """A change the fake controller has not finished rolling out yet."""

    reads_left: int | None
    """API reads of the Deployment that still see it in progress; None: it never completes."""
    before: dict[str, Any]
    template_changed: bool


def deployment_path(namespace: str, name: str) -> str:
    return f"{APPS}/namespaces/{namespace}/deployments/{name}"


def scale_path(namespace: str, name: str) -> str:
    return f"{deployment_path(namespace, name)}/scale"


def replicasets_path(namespace: str) -> str:
    return f"{APPS}/namespaces/{namespace}/replicasets"


class Deployments:
    """The Deployments and ReplicaSets, and the requests on them. Called under the fake's lock."""

    def __init__(self, next_version: Callable[[], str], rollout_reads: int | None) -> None:
        self.rollout_reads = rollout_reads
        self._next_version = next_version
        self._deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self._replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self._rollouts: dict[tuple[str, str], _Rollout] = {}

    def add_deployment(
        self,
        namespace: str,
        name: str,
        *,
        containers: list[dict[str, Any]] | None = None,
        init_containers: list[dict[str, Any]] | None = None,
        replicas: int = 3,
        labels: dict[str, str] | None = None,
        paused: bool = False,
        revision: int = 1,
        metadata_labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Add a Deployment that is fully rolled out, with its current ReplicaSet at ``revision``.

        ``labels`` are its selector's and pods' labels; ``metadata_labels`` and ``annotations``
        go on the Deployment only (as Argo CD or Flux put theirs).
        """
        labels = labels or {"app": name}
        pod_spec: dict[str, Any] = {
            "containers": containers or [{"name": "app", "image": f"{name}:1.0.0"}],
            "restartPolicy": "Always",
        }
        if init_containers:
            pod_spec["initContainers"] = init_containers
        spec: dict[str, Any] = {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        }
        if paused:
            spec["paused"] = True
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": 1,
                "creationTimestamp": "2025-07-17T09:00:00Z",
                "labels": {**labels, **(metadata_labels or {})},
                "annotations": {**(annotations or {}), REVISION: str(revision)},
            },
            "spec": spec,
            "status": _complete_status(replicas, 1),
        }
        self._deployments[(namespace, name)] = deployment
        self._new_replicaset(deployment, revision, replicas)
        return copy.deepcopy(deployment)

    def add_replicaset(
        self,
        namespace: str,
        deployment: str,
        *,
        revision: int,
        containers: list[dict[str, Any]],
        owned: bool = True,
    ) -> dict[str, Any]:
        """Add an old ReplicaSet of ``deployment`` (scaled to 0) whose pod template runs ``containers``."""
        dep = self._deployments[(namespace, deployment)]
        template = copy.deepcopy(dep["spec"]["template"])
        template["spec"]["containers"] = copy.deepcopy(containers)
        rs = self._new_replicaset(dep, revision, 0, template=template)
        if not owned:
            del rs["metadata"]["ownerReferences"]
        return copy.deepcopy(rs)

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment as a GET would return it now."""
        return copy.deepcopy(self._read_deployment(namespace, name))

    def replicasets(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        """The ReplicaSets owned by ``deployment``, oldest revision first."""
        dep = self._deployments[(namespace, deployment)]
        return copy.deepcopy(self._owned(dep))

    def set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Replace a Deployment's status (and stop any rollout in progress), e.g. a stuck rollout."""
        self._rollouts.pop((namespace, name), None)
        self._deployments[(namespace, name)]["status"] = copy.deepcopy(status)

    def serves(self, path: str) -> bool:
        return bool(_DEPLOYMENT.match(path) or _REPLICASETS.match(path))

    def handle(
        self, method: str, path: str, query: dict[str, str], content_type: str | None, body: Any
    ) -> dict[str, Any]:
        if m := _DEPLOYMENT.match(path):
            ns, name, scale = m["ns"], m["name"], bool(m["scale"])
            if method == "GET":
                dep = self._read_deployment(ns, name, counted=not scale)
                return _scale_of(dep) if scale else dep
            if method == "PATCH":
                return self._patch(ns, name, scale, content_type, body, query)
            raise not_allowed(method)
        m = _REPLICASETS.match(path)
        assert m is not None
        if method != "GET":
            raise not_allowed(method)
        return self._list_replicasets(m["ns"], query.get("labelSelector", ""))

    def _read_deployment(self, namespace: str, name: str, *, counted: bool = False) -> dict[str, Any]:
        """The Deployment with its status now; ``counted``: an API read, which moves a rollout on."""
        key = (namespace, name)
        dep = self._deployments.get(key)
        if dep is None:
            raise ApiError(
                404,
                f'deployments.apps "{name}" not found',
                {"name": name, "group": "apps", "kind": "deployments"},
            )
        rollout = self._rollouts.get(key)
        if rollout is not None:
            if rollout.reads_left is not None and rollout.reads_left <= 0:
                dep["status"] = _complete_status(dep["spec"]["replicas"], dep["metadata"]["generation"])
                del self._rollouts[key]
            else:
                dep["status"] = _progress_status(dep, rollout)
                if counted and rollout.reads_left is not None:
                    rollout.reads_left -= 1
        return _omit_zero(dep)

    def _patch(
        self,
        namespace: str,
        name: str,
        scale: bool,
        content_type: str | None,
        patch: Any,
        query: dict[str, str],
    ) -> dict[str, Any]:
        dry_run = check_dry_run(query)
        current = self._read_deployment(namespace, name)
        target = _scale_of(current) if scale else copy.deepcopy(current)
        patched = apply_patch(content_type, target, patch)
        check_precondition(patched, current, "deployments.apps", name)
        updated = copy.deepcopy(current)
        if scale:
            updated["spec"]["replicas"] = patched.get("spec", {}).get("replicas")
        else:
            updated["spec"] = patched.get("spec")
            updated["metadata"]["labels"] = patched.get("metadata", {}).get("labels", {})
            updated["metadata"]["annotations"] = patched.get("metadata", {}).get("annotations", {})
        _validate(updated)
        spec_changed = updated["spec"] != current["spec"]
        template_changed = _template_key(updated["spec"]["template"]) != _template_key(
            current["spec"]["template"]
        )
        if spec_changed:
            updated["metadata"]["generation"] += 1
        if dry_run:
            return _scale_of(updated) if scale else _omit_zero(updated)
        if updated != current:
            updated["metadata"]["resourceVersion"] = self._next_version()
        self._deployments[(namespace, name)] = updated
        if spec_changed:
            self._start_rollout(updated, current, template_changed)
        result = self._read_deployment(namespace, name)
        return _scale_of(result) if scale else result

    def _start_rollout(self, dep: dict[str, Any], before: dict[str, Any], template_changed: bool) -> None:
        key = (dep["metadata"]["namespace"], dep["metadata"]["name"])
        previous = self._rollouts.get(key)
        before_status = previous.before if previous else before["status"]
        reads_left = self.rollout_reads
        if dep["spec"].get("paused"):
            reads_left = None  # the controller does not roll out a paused Deployment
        elif template_changed:
            self._roll_replicasets(dep)
        self._rollouts[key] = _Rollout(
            reads_left, before_status, template_changed or bool(previous and previous.template_changed)
        )

    def autoscaled(self, autoscaler: dict[str, Any]) -> None:
        """The HPA controller, or KEDA, acting on a changed autoscaler: replicas follow its bounds.

        An HPA keeps its target between minReplicas and maxReplicas; a ScaledObject with the
        paused-replicas annotation holds its target at that count.
        """
        target = targets(autoscaler)
        current = self._deployments.get(target) if target else None
        if current is None:
            return
        replicas = current["spec"]["replicas"]
        if autoscaler["kind"] == "HorizontalPodAutoscaler":
            spec = autoscaler["spec"]
            wanted = min(max(replicas, spec.get("minReplicas", 1)), spec["maxReplicas"])
        else:
            paused = (autoscaler["metadata"].get("annotations") or {}).get(PAUSED_REPLICAS)
            if paused is None:
                return  # resumed: KEDA's HPA scales on its metrics again
            wanted = int(paused)
        if wanted == replicas:
            return
        updated = copy.deepcopy(current)
        updated["spec"]["replicas"] = wanted
        updated["metadata"]["generation"] += 1
        updated["metadata"]["resourceVersion"] = self._next_version()
        self._deployments[target] = updated  # type: ignore[index]
        self._start_rollout(updated, current, template_changed=False)

    def _roll_replicasets(self, dep: dict[str, Any]) -> None:
        """What the deployment controller does for a new pod template: reuse or create a ReplicaSet."""
        owned = self._owned(dep)
        newest = max((_revision(rs) for rs in owned), default=0)
        key = _template_key(dep["spec"]["template"])
        match = next((rs for rs in owned if _template_key(rs["spec"]["template"]) == key), None)
        if match is None:
            match = self._new_replicaset(dep, newest + 1, dep["spec"]["replicas"])
        elif _revision(match) != newest:
            match["metadata"]["annotations"][REVISION] = str(newest + 1)
            match["metadata"]["resourceVersion"] = self._next_version()
        dep["metadata"]["annotations"][REVISION] = match["metadata"]["annotations"][REVISION]
        for rs in owned:
            rs["spec"]["replicas"] = dep["spec"]["replicas"] if rs is match else 0

    def _new_replicaset(
        self,
        dep: dict[str, Any],
        revision: int,
        replicas: int,
        template: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        template = copy.deepcopy(template or dep["spec"]["template"])
        pod_hash = hashlib.sha256(_template_key(template).encode()).hexdigest()[:10]
        template["metadata"].setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        rs = {
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": 1,
                "creationTimestamp": "2025-07-17T09:00:00Z",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                    "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {
                    "matchLabels": {**dep["spec"]["selector"]["matchLabels"], POD_TEMPLATE_HASH: pod_hash}
                },
                "template": template,
            },
            "status": {"replicas": replicas, "observedGeneration": 1},
        }
        self._replicasets[(namespace, rs["metadata"]["name"])] = rs
        return rs

    def _owned(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        uid = dep["metadata"]["uid"]
        owned = [
            rs
            for rs in self._replicasets.values()
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences", []))
        ]
        return sorted(owned, key=_revision)

    def _list_replicasets(self, namespace: str, selector: str) -> dict[str, Any]:
        requirements = parse_selector(selector)
        items = [
            _omit_zero(rs)
            for (ns, _), rs in sorted(self._replicasets.items())
            if ns == namespace and all(req(rs["metadata"].get("labels", {})) for req in requirements)
        ]
        return {
            "kind": "ReplicaSetList",
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": self._next_version()},
            "items": items,
        }


# --- what the API server and controller compute -----------------------------------------


def _complete_status(replicas: int, generation: int) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }


def _progress_status(dep: dict[str, Any], rollout: _Rollout) -> dict[str, Any]:
    """A rollout half way: the new pod template observed, one new pod surged, old pods still serving."""
    desired = dep["spec"]["replicas"]
    old = rollout.before
    if dep["spec"].get("paused"):
        return {**old, "observedGeneration": dep["metadata"]["generation"]}
    progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    if rollout.template_changed:
        return {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": old.get("replicas", 0) + (1 if desired else 0),
            "updatedReplicas": min(1, desired),
            "readyReplicas": old.get("readyReplicas", 0),
            "availableReplicas": old.get("availableReplicas", 0),
            "unavailableReplicas": 1 if desired else 0,
            "conditions": [progressing],
        }
    return {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": max(desired, old.get("replicas", 0)),
        "updatedReplicas": desired,
        "readyReplicas": min(desired, old.get("readyReplicas", 0)),
        "availableReplicas": min(desired, old.get("availableReplicas", 0)),
        "conditions": [progressing],
    }


def _scale_of(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(dep["spec"]["selector"]["matchLabels"].items()))
    return _omit_zero(
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": dep["spec"]["replicas"]},
            "status": {"replicas": dep["status"].get("replicas", 0), "selector": selector},
        }
    )


def _omit_zero(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    status = obj.get("status") or {}
    for key in _OMIT_ZERO:
        if status.get(key) == 0:
            del status[key]
    if obj.get("spec", {}).get("replicas") == 0 and obj.get("kind") == "Scale":
        del obj["spec"]["replicas"]  # Scale's spec.replicas is omitempty too
    return obj


def _revision(rs: dict[str, Any]) -> int:
    return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))


def _template_key(template: dict[str, Any]) -> str:
    """The pod template, as the controller compares it: without the pod-template-hash label."""
    template = copy.deepcopy(template)
    template.get("metadata", {}).get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    return json.dumps(template, sort_keys=True)


def _validate(dep: dict[str, Any]) -> None:
    name = dep["metadata"]["name"]
    problems = []
    replicas = dep["spec"].get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        problems.append(
            f"spec.replicas: Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0"
        )
    for kind in ("containers", "initContainers"):
        for i, container in enumerate(dep["spec"]["template"]["spec"].get(kind, [])):
            if not container.get("image"):
                problems.append(f"spec.template.spec.{kind}[{i}].image: Required value")
    if problems:
        raise ApiError(422, f'Deployment.apps "{name}" is invalid: ' + ", ".join(problems))
