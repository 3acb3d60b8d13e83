"""Scaling a Deployment that an autoscaler drives: refuse, adjust the autoscaler, or restore it.

Setting the replicas of such a Deployment is undone by its autoscaler within seconds, so
``kubernetes.scale`` changes the autoscaler instead, only when the step says
``autoscaler: adjust``:

- an HPA gets ``minReplicas = N`` and ``maxReplicas = max(its max, N)``: it keeps at least N
  replicas (an HPA cannot hold 0: refused);
- a KEDA ScaledObject gets KEDA's documented ``autoscaling.keda.sh/paused-replicas: "N"``
  annotation: KEDA scales the target to N and stops autoscaling it (0 allowed).

What the adjust changed is kept on the autoscaler itself, in the ``alert-responder/adjusted``
annotation (``{"before": ..., "set": ...}``), written by the same PATCH that makes the change:
the record cannot be lost between two writes, ``kubectl get -o yaml`` shows who changed the
bounds and what they were, it survives a Redis flush, and a GitOps tool that reverts the change
removes the record with it (so a later restore has nothing to undo). Repeated adjusts keep the
first ``before``, so ``autoscaler: restore`` (e.g. in ``on_resolved``) puts back the bounds as
they were before the responder touched them. It refuses to restore an autoscaler whose values
changed since the adjust: someone else's change wins.

Each adjust or restore is exactly one PATCH of the autoscaler, guarded by the resourceVersion
it read (409, retried, if the autoscaler changed in between); the Deployment is not patched.
"""

from __future__ import annotations

import json
from typing import Any

from responder.actions.base import Outcome
from responder.actions.kubernetes import gitops
from responder.actions.kubernetes.autoscalers import HPA, Autoscaler
from responder.actions.kubernetes.client import Deployment
from responder.errors import ActionError

RECORD = "alert-responder/adjusted"
"""Annotation on an adjusted autoscaler: what the adjust changed, for ``autoscaler: restore``."""
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"


def refusal(dep: Deployment, found: list[Autoscaler]) -> ActionError:
    """The default, ``autoscaler: refuse``: nothing is sent, and the message says what to set."""
    return ActionError(
        f"refused: deployment {dep.ref} is scaled by {_names(found)}, which would undo this change; "
        "set `autoscaler: adjust` on the step to scale through it instead; nothing was sent",
        retryable=False,
    )


def adjust(
    dep: Deployment, found: list[Autoscaler], deployment: dict[str, Any], current: int, target: int, note: str
) -> Outcome:
    """Set the one autoscaler so that ``target`` replicas hold (``note``: how bounds shaped it)."""
    if len(found) > 1:
        raise ActionError(
            f"refused: deployment {dep.ref} is scaled by {_names(found)}; they compete, and adjusting "
            "one would not hold the replicas: remove all but one; nothing was sent",
            retryable=False,
        )
    [scaler] = found
    if scaler.kind == HPA and target == 0:
        raise ActionError(
            f"refused: cannot scale deployment {dep.ref} to 0 replicas through {scaler.label}: an HPA "
            "keeps at least 1 replica (minReplicas 0 needs the alpha HPAScaleToZero feature gate); "
            "scale to 0 with KEDA, or remove the HPA first; nothing was sent",
            retryable=False,
        )
    before = _values(scaler)
    after = (
        {"minReplicas": target, "maxReplicas": max(before["maxReplicas"], target)}
        if scaler.kind == HPA
        else {PAUSED_REPLICAS: str(target)}
    )
    details: dict[str, Any] = {
        "namespace": dep.namespace,
        "deployment": dep.name,
        "from": current,
        "to": target,
        "dry_run": dep.dry,
        "autoscaler": {"kind": scaler.kind, "name": scaler.name, "before": before, "after": after},
    }
    if after == before:
        return Outcome(
            f"{dep.did('left', 'would leave')} {scaler.label} as it is{note}: it already has "
            f"{_describe(after)}, so deployment {dep.ref} keeps {_holds(scaler, target)}",
            details,
        )
    earlier = _record(scaler)
    record = {"before": earlier["before"] if earlier else before, "set": after}
    annotations: dict[str, Any] = {RECORD: json.dumps(record, sort_keys=True, separators=(",", ":"))}
    body: dict[str, Any] = {"metadata": {"resourceVersion": scaler.version, "annotations": annotations}}
    if scaler.kind == HPA:
        body["spec"] = {key: value for key, value in after.items() if before.get(key) != value}
    else:
        annotations[PAUSED_REPLICAS] = after[PAUSED_REPLICAS]
    scaler.patch(dep, body)
    warnings = gitops.warnings([(f"deployment {dep.ref}", deployment), (scaler.label, scaler.obj)])
    if scaler.kind == HPA:
        changes = ", ".join(
            f"{key} {value}" + (f" (was {_shown(before[key])})" if before[key] != value else "")
            for key, value in after.items()
        )
        summary = (
            f"{dep.did('set', 'would set')} {scaler.label} to {changes}{note}, so deployment {dep.ref} "
            f"{dep.did('keeps', 'would keep')} at least {target} replicas (now {current})"
        )
    else:
        was = before[PAUSED_REPLICAS]
        summary = (
            f"{dep.did('paused', 'would pause')} {scaler.label} at {target} replicas{note} (annotation "
            f'{PAUSED_REPLICAS}: "{target}", was {"none" if was is None else json.dumps(was)}), so KEDA '
            f"{dep.did('scales', 'would scale')} deployment {dep.ref} from {current} to {target} replicas"
        )
    return gitops.outcome(summary, details, warnings)


def restore(dep: Deployment, found: list[Autoscaler]) -> Outcome:
    """Put back what the adjusts of this Deployment's autoscaler changed, as recorded on it.

    No GitOps warning here: a restore puts back what was there before, which is what Git has.
    """
    details: dict[str, Any] = {"namespace": dep.namespace, "deployment": dep.name, "dry_run": dep.dry}
    adjusted = [scaler for scaler in found if RECORD in scaler.annotations]
    if not adjusted:
        why = (
            "no autoscaler drives it"
            if not found
            else f"{_names(found)} carries no record of an `autoscaler: adjust` (annotation {RECORD})"
        )
        return Outcome(f"nothing to restore for deployment {dep.ref}: {why}", {**details, "autoscalers": []})
    restored, summaries = [], []
    for scaler in adjusted:
        record = _record(scaler)
        assert record is not None
        now = _values(scaler)
        if now != record["set"]:
            raise ActionError(
                f"not restoring {scaler.label}: it changed since the adjust ({_describe(now)}; the adjust "
                f"set {_describe(record['set'])}), and that later change wins; before the adjust it had "
                f"{_describe(record['before'])}: put that back by hand if still wanted, and remove its "
                f"annotation {RECORD}",
                retryable=False,
            )
        annotations: dict[str, Any] = {RECORD: None}
        body: dict[str, Any] = {"metadata": {"resourceVersion": scaler.version, "annotations": annotations}}
        if scaler.kind == HPA:
            body["spec"] = dict(record["before"])
        else:
            annotations[PAUSED_REPLICAS] = record["before"][PAUSED_REPLICAS]  # None removes it: resume
        scaler.patch(dep, body)
        restored.append({"kind": scaler.kind, "name": scaler.name, "before": now, "after": record["before"]})
        summaries.append(
            f"{dep.did('restored', 'would restore')} {scaler.label} to {_describe(record['before'])} "
            f"(the adjust had set {_describe(now)})"
        )
    return Outcome("; ".join(summaries), {**details, "autoscalers": restored})


def _values(scaler: Autoscaler) -> dict[str, Any]:
    """What an adjust sets on this autoscaler, as it is now."""
    if scaler.kind == HPA:
        spec = scaler.obj.get("spec") or {}
        return {"minReplicas": spec.get("minReplicas"), "maxReplicas": spec.get("maxReplicas")}
    return {PAUSED_REPLICAS: scaler.annotations.get(PAUSED_REPLICAS)}


def _record(scaler: Autoscaler) -> dict[str, Any] | None:
    raw = scaler.annotations.get(RECORD)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        valid = isinstance(record, dict) and all(isinstance(record.get(k), dict) for k in ("before", "set"))
    except ValueError:
        valid = False
    if not valid:
        raise ActionError(
            f"{scaler.label} has an annotation {RECORD} that is not the responder's record "
            f"({json.dumps(raw)[:200]}); remove it (kubectl annotate {scaler.resource} {scaler.name} "
            f"{RECORD}-) and set the bounds by hand",
            retryable=False,
        )
    return dict(record)


def _holds(scaler: Autoscaler, target: int) -> str:
    return f"at least {target} replicas" if scaler.kind == HPA else f"{target} replicas, autoscaling paused"


def _describe(values: dict[str, Any]) -> str:
    if PAUSED_REPLICAS in values:
        paused = values[PAUSED_REPLICAS]
        return f"no {PAUSED_REPLICAS} annotation" if paused is None else f'{PAUSED_REPLICAS} "{paused}"'
    return ", ".join(f"{key} {_shown(values.get(key))}" for key in ("minReplicas", "maxReplicas"))


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value) if isinstance(value, str) else str(value)


def _names(found: list[Autoscaler]) -> str:
    described = []
    for scaler in found:
        if scaler.kind == HPA:
            described.append(f"{scaler.label} ({_describe(_values(scaler))})")
        else:
            spec = scaler.obj.get("spec") or {}
            low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
            described.append(f"{scaler.label} (KEDA, minReplicaCount {low}, maxReplicaCount {high})")
    return " and ".join(described)
