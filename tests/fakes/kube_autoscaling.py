"""The autoscalers of the fake API server: HorizontalPodAutoscalers and KEDA ScaledObjects.

Served, as the real API server serves them:

- ``GET /apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers`` (list), and
  ``GET``/``PATCH .../horizontalpodautoscalers/{name}`` (merge, strategic merge or JSON patch);
- ``GET /apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects`` (list), and
  ``GET``/``PATCH .../scaledobjects/{name}`` (merge or JSON patch: a custom resource has no
  strategic merge, 415).

KEDA is a CRD: until it is installed (:attr:`Autoscalers.keda_installed`, set by adding a
ScaledObject) every ``keda.sh`` path answers 404, as the real API server answers for a group
it does not know. A ScaledObject comes with the HPA KEDA creates for it (``keda-hpa-NAME``,
owned by the ScaledObject), as in a cluster.

Patches obey ``dryRun=All`` and ``resourceVersion`` preconditions, and an HPA is validated
(``minReplicas`` ≥ 1, ``maxReplicas`` ≥ ``minReplicas``). After a stored change the owner
(:class:`tests.fakes.kube.FakeKube`) plays the controllers through ``on_change``.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from typing import Any

from tests.fakes.kube_api import ApiError, apply_patch, check_dry_run, check_precondition, not_allowed

HPA_API = "/apis/autoscaling/v2"
KEDA_API = "/apis/keda.sh/v1alpha1"
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"

_HPA = re.compile(rf"^{HPA_API}/namespaces/(?P<ns>[^/]+)/horizontalpodautoscalers(?:/(?P<name>[^/]+))?$")
_SCALED_OBJECT = re.compile(rf"^{KEDA_API}/namespaces/(?P<ns>[^/]+)/scaledobjects(?:/(?P<name>[^/]+))?$")

Key = tuple[str, str]


def hpas_path(namespace: str) -> str:
    return f"{HPA_API}/namespaces/{namespace}/horizontalpodautoscalers"


def hpa_path(namespace: str, name: str) -> str:
    return f"{hpas_path(namespace)}/{name}"


def scaled_objects_path(namespace: str) -> str:
    return f"{KEDA_API}/namespaces/{namespace}/scaledobjects"


def scaled_object_path(namespace: str, name: str) -> str:
    return f"{scaled_objects_path(namespace)}/{name}"


class Autoscalers:
    """The HPAs and ScaledObjects, and the requests on them. Called under the fake's lock."""

    def __init__(self, next_version: Callable[[], str], on_change: Callable[[dict[str, Any]], None]) -> None:
        self.hpas: dict[Key, dict[str, Any]] = {}
        self.scaled_objects: dict[Key, dict[str, Any]] = {}
        self.keda_installed = False
        """Whether the ScaledObject CRD is installed; until then keda.sh paths answer 404."""
        self._next_version = next_version
        self._on_change = on_change

    # --- state, for tests -------------------------------------------------------------

    def add_hpa(
        self,
        namespace: str,
        name: str,
        *,
        target: str,
        min_replicas: int = 1,
        max_replicas: int = 10,
        target_kind: str = "Deployment",
        target_api_version: str = "apps/v1",
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        metadata = self._metadata(namespace, name, labels, annotations)
        if owner is not None:
            metadata["ownerReferences"] = [owner]
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata,
            "spec": {
                "scaleTargetRef": {"apiVersion": target_api_version, "kind": target_kind, "name": target},
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
            "status": {"currentReplicas": min_replicas, "desiredReplicas": min_replicas},
        }
        self.hpas[(namespace, name)] = hpa
        return copy.deepcopy(hpa)

    def add_scaled_object(
        self,
        namespace: str,
        name: str,
        *,
        target: str,
        min_replicas: int = 0,
        max_replicas: int = 10,
        target_kind: str | None = None,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A ScaledObject (installing KEDA), and the HPA KEDA creates for it."""
        self.keda_installed = True
        ref: dict[str, Any] = {"name": target}
        if target_kind is not None:
            ref["kind"] = target_kind
        metadata = self._metadata(namespace, name, labels, annotations)
        scaled_object = {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": metadata,
            "spec": {
                "scaleTargetRef": ref,
                "minReplicaCount": min_replicas,
                "maxReplicaCount": max_replicas,
                "triggers": [
                    {
                        "type": "redis",
                        "metadata": {
                            "address": "redis:6379",
                            "listName": "embedding-queue",
                            "listLength": "20",
                        },
                    }
                ],
            },
            "status": {"scaleTargetKind": "apps/v1.Deployment", "hpaName": f"keda-hpa-{name}"},
        }
        self.scaled_objects[(namespace, name)] = scaled_object
        owner = {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "name": name,
            "uid": metadata["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        self.add_hpa(
            namespace,
            f"keda-hpa-{name}",
            target=target,
            min_replicas=max(min_replicas, 1),
            max_replicas=max_replicas,
            labels={"app.kubernetes.io/managed-by": "keda-operator", "scaledobject.keda.sh/name": name},
            owner=owner,
        )
        return copy.deepcopy(scaled_object)

    def _metadata(
        self, namespace: str, name: str, labels: dict[str, str] | None, annotations: dict[str, str] | None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": self._next_version(),
            "generation": 1,
            "creationTimestamp": "2025-07-17T09:00:00Z",
        }
        if labels:
            metadata["labels"] = dict(labels)
        if annotations:
            metadata["annotations"] = dict(annotations)
        return metadata

    # --- the API --------------------------------------------------------------------

    def serves(self, path: str) -> bool:
        return bool(_HPA.match(path) or _SCALED_OBJECT.match(path))

    def handle(
        self, method: str, path: str, query: dict[str, str], content_type: str | None, body: Any
    ) -> dict[str, Any]:
        if m := _HPA.match(path):
            store, what, kind, custom = (
                self.hpas,
                "horizontalpodautoscalers.autoscaling",
                "autoscaling/v2",
                False,
            )
        elif (m := _SCALED_OBJECT.match(path)) and self.keda_installed:
            store, what, kind, custom = self.scaled_objects, "scaledobjects.keda.sh", "keda.sh/v1alpha1", True
        else:
            raise ApiError(404, "the server could not find the requested resource")
        namespace, name = m["ns"], m["name"]
        if name is None:
            if method != "GET":
                raise not_allowed(method)
            items = [copy.deepcopy(obj) for (ns, _), obj in sorted(store.items()) if ns == namespace]
            list_kind = "HorizontalPodAutoscalerList" if not custom else "ScaledObjectList"
            return {
                "apiVersion": kind,
                "kind": list_kind,
                "metadata": {"resourceVersion": self._next_version()},
                "items": items,
            }
        current = store.get((namespace, name))
        if current is None:
            resource, _, group = what.partition(".")
            raise ApiError(
                404, f'{what} "{name}" not found', {"name": name, "group": group, "kind": resource}
            )
        if method == "GET":
            return copy.deepcopy(current)
        if method != "PATCH":
            raise not_allowed(method)
        dry_run = check_dry_run(query)
        patched = apply_patch(content_type, current, body, custom_resource=custom)
        check_precondition(patched, current, what, name)
        updated = copy.deepcopy(current)
        updated["spec"] = patched.get("spec")
        for part in ("labels", "annotations"):
            value = (patched.get("metadata") or {}).get(part)
            if value:
                _check_strings(value, part)
                updated["metadata"][part] = value
            else:
                updated["metadata"].pop(part, None)
        if not custom:
            _validate_hpa(updated)
        if updated["spec"] != current["spec"]:
            updated["metadata"]["generation"] += 1
        if dry_run:
            return updated
        if updated != current:
            updated["metadata"]["resourceVersion"] = self._next_version()
            store[(namespace, name)] = updated
            self._on_change(copy.deepcopy(updated))
        return copy.deepcopy(updated)


def targets(obj: dict[str, Any]) -> Key | None:
    """The Deployment an HPA or ScaledObject scales, as (namespace, name); None for other kinds."""
    ref = obj["spec"].get("scaleTargetRef") or {}
    kind = ref.get("kind", "Deployment")  # KEDA defaults the kind to Deployment
    if kind != "Deployment" or not ref.get("apiVersion", "apps/v1").startswith("apps/"):
        return None
    return obj["metadata"]["namespace"], ref["name"]


def _check_strings(values: Any, part: str) -> None:
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ApiError(
            400,
            f"json: cannot unmarshal number into Go struct field ObjectMeta.metadata.{part} of type string",
        )


def _validate_hpa(hpa: dict[str, Any]) -> None:
    """The API server's validation of an HPA's replica bounds (HPAScaleToZero off, as by default)."""
    spec, problems = hpa["spec"] or {}, []
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(low, int) or low < 1:
        problems.append(f"spec.minReplicas: Invalid value: {low}: must be greater than or equal to 1")
    if not isinstance(high, int) or high < 1:
        problems.append(f"spec.maxReplicas: Invalid value: {high}: must be greater than or equal to 1")
    elif isinstance(low, int) and high < low:
        problems.append(
            f"spec.maxReplicas: Invalid value: {high}: must be greater than or equal to `minReplicas`"
        )
    if problems:
        name = hpa["metadata"]["name"]
        raise ApiError(
            422, f'HorizontalPodAutoscaler.autoscaling "{name}" is invalid: ' + ", ".join(problems)
        )
