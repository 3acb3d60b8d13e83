"""Who else owns an object: Argo CD or Flux, whose self-heal may revert what an action changed.

Read from the marks those tools leave on what they apply: Argo CD's
``argocd.argoproj.io/instance`` label or ``argocd.argoproj.io/tracking-id`` annotation, Flux's
``kustomize.toolkit.fluxcd.io/name`` and ``helm.toolkit.fluxcd.io/name`` labels (each with its
``.../namespace`` companion). The action still acts (it is 3 a.m. and the change may be what
keeps the service up); the step's timeline entry carries the warning, so nobody is surprised
when Git wins again.
"""

from __future__ import annotations

from typing import Any

from responder.actions.base import Outcome

ARGO_INSTANCE = "argocd.argoproj.io/instance"
ARGO_TRACKING_ID = "argocd.argoproj.io/tracking-id"
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_RELEASE = "helm.toolkit.fluxcd.io"


def owner(obj: dict[str, Any]) -> str | None:
    """The GitOps tool applying ``obj``, in words (``Argo CD application shop``); None if none."""
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    if ARGO_INSTANCE in labels:
        return f"Argo CD application {labels[ARGO_INSTANCE]}"
    if ARGO_TRACKING_ID in annotations:
        # "<app>:<group>/<kind>:<namespace>/<name>"; the application may carry a namespace prefix.
        return f"Argo CD application {str(annotations[ARGO_TRACKING_ID]).split(':', 1)[0]}"
    for prefix, kind in ((FLUX_KUSTOMIZATION, "Kustomization"), (FLUX_HELM_RELEASE, "HelmRelease")):
        name = labels.get(f"{prefix}/name")
        if name:
            namespace = labels.get(f"{prefix}/namespace")
            return f"Flux {kind} {namespace}/{name}" if namespace else f"Flux {kind} {name}"
    return None


def warnings(objects: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """A warning for each changed object a GitOps tool applies; ``objects`` are (label, object)."""
    found = []
    for label, obj in objects:
        who = owner(obj)
        if who is not None:
            found.append(
                f"{label} is managed by {who}: GitOps self-heal may revert this change; "
                "make it in Git too to keep it"
            )
    return found


def outcome(summary: str, details: dict[str, Any], warnings: list[str]) -> Outcome:
    """An Outcome whose summary (the step's timeline entry) and details carry the warnings."""
    if not warnings:
        return Outcome(summary, details)
    return Outcome(f"{summary}; warning: " + "; warning: ".join(warnings), {**details, "warnings": warnings})
