"""Finding and patching the autoscalers that drive a Deployment: HPAs and KEDA ScaledObjects.

:func:`find` lists the namespace's HorizontalPodAutoscalers (autoscaling/v2) and KEDA
ScaledObjects (keda.sh/v1alpha1) and keeps those whose ``scaleTargetRef`` is the Deployment.
KEDA is optional: when its CRD is not installed the API server answers 404 for the whole
``keda.sh`` group, which means "no ScaledObjects", not an error. The HPA KEDA creates for each
ScaledObject (owned by it) is part of that ScaledObject, not an autoscaler of its own: KEDA
would undo any change made to it.

:meth:`Autoscaler.patch` sends one merge patch, with the step's dry run and field manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from responder.actions.kubernetes.client import FIELD_MANAGER, MERGE_PATCH, Deployment

HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"
KEDA_GROUP, KEDA_VERSION, KEDA_PLURAL = "keda.sh", "v1alpha1", "scaledobjects"
HPAS = "horizontalpodautoscalers"


@dataclass(frozen=True)
class Autoscaler:
    """One autoscaler of the Deployment, as listed (``obj`` is the API object)."""

    kind: str
    """``HorizontalPodAutoscaler`` or ``ScaledObject``."""
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def ref(self) -> str:
        return f"{self.obj['metadata']['namespace']}/{self.name}"

    @property
    def label(self) -> str:
        """As people name it: ``HorizontalPodAutoscaler embedding/workers``."""
        return f"{self.kind} {self.ref}"

    @property
    def resource(self) -> str:
        return HPAS if self.kind == HPA else KEDA_PLURAL

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.obj["metadata"].get("annotations") or {})

    @property
    def version(self) -> str:
        return str(self.obj["metadata"]["resourceVersion"])

    def patch(self, dep: Deployment, body: dict[str, Any]) -> dict[str, Any]:
        """One merge patch of this autoscaler (``dryRun=All`` in dry run)."""
        if self.kind == HPA:
            api = k8s.AutoscalingV2Api(dep.api_client)
            return dep.call(
                "patch",
                HPAS,
                lambda: api.patch_namespaced_horizontal_pod_autoscaler(
                    self.name,
                    dep.namespace,
                    body,
                    dry_run=dep.dry_run,
                    field_manager=FIELD_MANAGER,
                    _content_type=MERGE_PATCH,
                    _preload_content=False,
                    _request_timeout=dep.timeout,
                ),
                self.ref,
            )
        custom = k8s.CustomObjectsApi(dep.api_client)
        return dep.call(
            "patch",
            KEDA_PLURAL,
            lambda: custom.patch_namespaced_custom_object(
                KEDA_GROUP,
                KEDA_VERSION,
                dep.namespace,
                KEDA_PLURAL,
                self.name,
                body,
                dry_run=dep.dry_run,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,  # a custom resource has no strategic merge patch
                _preload_content=False,
                _request_timeout=dep.timeout,
            ),
            self.ref,
        )


def find(dep: Deployment) -> list[Autoscaler]:
    """The HPAs and ScaledObjects whose ``scaleTargetRef`` is ``dep``, ScaledObjects first.

    Raises:
        ActionError: a list was refused (403: the Role lacks ``list``) or failed.
    """
    listed_hpas = _list_hpas(dep)
    scaled_objects = [so for so in _list_scaled_objects(dep) if _targets(so, dep.name, keda=True)]
    kept = {so["metadata"]["uid"] for so in scaled_objects}
    hpas = [
        hpa
        for hpa in listed_hpas
        if _targets(hpa, dep.name, keda=False) and not _owner_uids(hpa) & kept  # KEDA's own HPA
    ]
    return [Autoscaler(SCALED_OBJECT, so) for so in scaled_objects] + [Autoscaler(HPA, h) for h in hpas]


def _list_hpas(dep: Deployment) -> list[dict[str, Any]]:
    api = k8s.AutoscalingV2Api(dep.api_client)
    answer = dep.call(
        "list",
        HPAS,
        lambda: api.list_namespaced_horizontal_pod_autoscaler(
            dep.namespace, _preload_content=False, _request_timeout=dep.timeout
        ),
        f"in namespace {dep.namespace}",
    )
    return list(answer.get("items") or [])


def _list_scaled_objects(dep: Deployment) -> list[dict[str, Any]]:
    custom = k8s.CustomObjectsApi(dep.api_client)
    answer = dep.call(
        "list",
        KEDA_PLURAL,
        lambda: custom.list_namespaced_custom_object(
            KEDA_GROUP,
            KEDA_VERSION,
            dep.namespace,
            KEDA_PLURAL,
            _preload_content=False,
            _request_timeout=dep.timeout,
        ),
        f"in namespace {dep.namespace}",
        if_absent={"items": []},  # KEDA is not installed: the API server does not know keda.sh
    )
    return list(answer.get("items") or [])


def _targets(obj: dict[str, Any], deployment: str, *, keda: bool) -> bool:
    ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    # KEDA defaults an omitted kind and apiVersion to apps/v1 Deployment; an HPA needs both.
    kind = ref.get("kind", "Deployment" if keda else None)
    api_version = str(ref.get("apiVersion", "apps/v1" if keda else ""))
    return kind == "Deployment" and api_version.split("/")[0] == "apps" and ref.get("name") == deployment


def _owner_uids(obj: dict[str, Any]) -> set[str]:
    return {
        ref.get("uid", "")
        for ref in obj["metadata"].get("ownerReferences") or []
        if ref.get("kind") == SCALED_OBJECT
    }
