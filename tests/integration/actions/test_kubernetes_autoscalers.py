"""kubernetes.scale on a Deployment an autoscaler drives: refuse, adjust, restore, GitOps warnings.

The fake API server serves HorizontalPodAutoscalers (autoscaling/v2) and KEDA ScaledObjects
(keda.sh/v1alpha1) as a real one does; each test asserts the exact requests it received.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from responder.errors import ActionError
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.fakes.kube import (
    MERGE,
    PAUSED_REPLICAS,
    FakeKube,
    deployment_path,
    hpa_path,
    hpas_path,
    scale_path,
    scaled_object_path,
    scaled_objects_path,
)
from tests.helpers import alert, body, drain, events, incidents_of
from tests.integration.actions.kube_steps import MANAGED, NS, WORKERS, make_ctx, run, sent

RECORD = "alert-responder/adjusted"
HPA = "workers-hpa"
SCALED = "workers-queue"
ARGO_INSTANCE = "argocd.argoproj.io/instance"
# Before scaling: the Deployment, then its autoscalers, as with KEDA installed.
LOOKUP = [
    ("GET", deployment_path(NS, WORKERS), {}, None, None),
    ("GET", hpas_path(NS), {}, None, None),
    ("GET", scaled_objects_path(NS), {}, None, None),
]

pytestmark = pytest.mark.usefixtures("kubeconfig")


def scale(ctx: Any = None, **params: Any) -> Any:
    return run("kubernetes.scale", ctx, namespace=NS, deployment=WORKERS, **params)


def record(before: dict[str, Any], set_: dict[str, Any]) -> str:
    return json.dumps({"before": before, "set": set_}, sort_keys=True, separators=(",", ":"))


def patches(fake: FakeKube) -> list[tuple[str, str, dict[str, str], str | None, Any]]:
    return [r for r in sent(fake) if r[0] == "PATCH"]


def with_hpa(fake: FakeKube, replicas: int = 3, low: int = 2, high: int = 10) -> str:
    """The workers at ``replicas``, driven by an HPA (low..high); returns the HPA's resourceVersion."""
    fake.add_deployment(NS, WORKERS, replicas=replicas)
    return str(
        fake.add_hpa(NS, HPA, target=WORKERS, min_replicas=low, max_replicas=high)["metadata"][
            "resourceVersion"
        ]
    )


def with_keda(fake: FakeKube, replicas: int = 3, annotations: dict[str, str] | None = None) -> str:
    """The workers driven by a ScaledObject (and the HPA KEDA made for it); returns its resourceVersion."""
    fake.add_deployment(NS, WORKERS, replicas=replicas)
    scaled = fake.add_scaled_object(NS, SCALED, target=WORKERS, min_replicas=1, annotations=annotations)
    return str(scaled["metadata"]["resourceVersion"])


# --- refuse (the default) -----------------------------------------------------------------------


def test_an_hpa_driven_deployment_is_refused_by_default_and_nothing_is_patched(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)

    with pytest.raises(ActionError) as err:
        scale(replicas=5)

    assert str(err.value) == (
        f"refused: deployment {NS}/{WORKERS} is scaled by HorizontalPodAutoscaler {NS}/{HPA} "
        "(minReplicas 2, maxReplicas 10), which would undo this change; set `autoscaler: adjust` on the "
        "step to scale through it instead; nothing was sent"
    )
    assert not err.value.retryable
    assert sent(fake_kube) == LOOKUP  # no PATCH at all
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 3


def test_a_keda_scaled_deployment_is_refused_naming_the_scaled_object_not_kedas_hpa(
    fake_kube: FakeKube,
) -> None:
    with_keda(fake_kube)

    with pytest.raises(ActionError) as err:
        scale(by=2)

    assert str(err.value) == (
        f"refused: deployment {NS}/{WORKERS} is scaled by ScaledObject {NS}/{SCALED} "
        "(KEDA, minReplicaCount 1, maxReplicaCount 10), which would undo this change; set "
        "`autoscaler: adjust` on the step to scale through it instead; nothing was sent"
    )
    assert sent(fake_kube) == LOOKUP


def test_autoscalers_of_other_workloads_are_not_this_deployments(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.add_hpa(NS, "other-hpa", target="other-deployment")
    fake_kube.add_hpa(NS, "sts-hpa", target=WORKERS, target_kind="StatefulSet")
    fake_kube.add_scaled_object(NS, "other-queue", target="other-deployment")

    outcome = scale(replicas=5)

    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 5 replicas"
    assert [(r[0], r[1]) for r in patches(fake_kube)] == [("PATCH", scale_path(NS, WORKERS))]


# --- adjust: HPA --------------------------------------------------------------------------------


def test_adjust_sets_the_hpas_min_in_one_patch_and_leaves_the_deployments_replicas_alone(
    fake_kube: FakeKube,
) -> None:
    version = with_hpa(fake_kube)

    outcome = scale(replicas=5, autoscaler="adjust")

    set_ = {"maxReplicas": 10, "minReplicas": 5}
    assert sent(fake_kube) == [
        *LOOKUP,
        (
            "PATCH",
            hpa_path(NS, HPA),
            MANAGED,
            MERGE,
            {
                "metadata": {
                    "resourceVersion": version,
                    "annotations": {RECORD: record({"maxReplicas": 10, "minReplicas": 2}, set_)},
                },
                "spec": {"minReplicas": 5},
            },
        ),
    ]
    assert outcome.summary == (
        f"set HorizontalPodAutoscaler {NS}/{HPA} to minReplicas 5 (was 2), maxReplicas 10, "
        f"so deployment {NS}/{WORKERS} keeps at least 5 replicas (now 3)"
    )
    assert outcome.details == {
        "namespace": NS,
        "deployment": WORKERS,
        "from": 3,
        "to": 5,
        "dry_run": False,
        "autoscaler": {
            "kind": "HorizontalPodAutoscaler",
            "name": HPA,
            "before": {"minReplicas": 2, "maxReplicas": 10},
            "after": {"minReplicas": 5, "maxReplicas": 10},
        },
    }
    assert fake_kube.hpa(NS, HPA)["spec"]["minReplicas"] == 5
    # The (fake) HPA controller, not the responder, brought the workers up to the new minimum.
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 5


def test_adjust_raises_the_hpas_max_when_the_wanted_replicas_exceed_it(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube, replicas=9, high=10)

    outcome = scale(by=3, max=12, autoscaler="adjust")

    [patch] = patches(fake_kube)
    assert patch[4]["spec"] == {"minReplicas": 12, "maxReplicas": 12}
    assert outcome.summary == (
        f"set HorizontalPodAutoscaler {NS}/{HPA} to minReplicas 12 (was 2), maxReplicas 12 (was 10), "
        f"so deployment {NS}/{WORKERS} keeps at least 12 replicas (now 9)"
    )


def test_an_hpa_cannot_hold_zero_replicas_so_adjust_to_zero_is_refused(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)

    with pytest.raises(ActionError) as err:
        scale(replicas=0, autoscaler="adjust")

    assert str(err.value) == (
        f"refused: cannot scale deployment {NS}/{WORKERS} to 0 replicas through HorizontalPodAutoscaler "
        f"{NS}/{HPA}: an HPA keeps at least 1 replica (minReplicas 0 needs the alpha HPAScaleToZero "
        "feature gate); scale to 0 with KEDA, or remove the HPA first; nothing was sent"
    )
    assert not err.value.retryable
    assert patches(fake_kube) == []


def test_adjust_that_changes_nothing_sends_no_patch(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube, replicas=5, low=5)

    outcome = scale(replicas=5, autoscaler="adjust")

    assert sent(fake_kube) == LOOKUP
    assert outcome.summary == (
        f"left HorizontalPodAutoscaler {NS}/{HPA} as it is: it already has minReplicas 5, maxReplicas 10, "
        f"so deployment {NS}/{WORKERS} keeps at least 5 replicas"
    )


def test_adjust_refuses_when_two_autoscalers_compete(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)
    fake_kube.add_hpa(NS, "second-hpa", target=WORKERS)

    with pytest.raises(ActionError) as err:
        scale(replicas=5, autoscaler="adjust")

    assert str(err.value).startswith(
        f"refused: deployment {NS}/{WORKERS} is scaled by HorizontalPodAutoscaler {NS}/second-hpa "
        f"(minReplicas 1, maxReplicas 10) and HorizontalPodAutoscaler {NS}/{HPA} (minReplicas 2, "
        "maxReplicas 10); they compete"
    )
    assert patches(fake_kube) == []


def test_adjust_racing_another_change_of_the_hpa_gets_a_retryable_conflict(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)
    ours = fake_kube.hold("PATCH", hpa_path(NS, HPA))
    errors: list[ActionError] = []

    def adjust() -> None:
        try:
            scale(replicas=5, autoscaler="adjust")
        except ActionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=adjust)
    thread.start()
    assert ours.arrived.wait(10)  # our PATCH, made from the HPA as we read it, is at the API server
    fake_kube.edit_hpa(NS, HPA, lambda hpa: hpa["spec"].update(maxReplicas=20))  # someone else's change
    ours.release()
    thread.join()

    [error] = errors
    assert error.retryable
    assert str(error).startswith(
        f"conflict: horizontalpodautoscalers {NS}/{HPA} changed while being updated "
        f'(Operation cannot be fulfilled on horizontalpodautoscalers.autoscaling "{HPA}"'
    )
    assert (fake_kube.hpa(NS, HPA)["spec"]["minReplicas"], fake_kube.hpa(NS, HPA)["spec"]["maxReplicas"]) == (
        2,
        20,
    )


# --- adjust: KEDA -------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [0, 4])
def test_adjust_pauses_a_scaled_object_at_the_wanted_replicas(fake_kube: FakeKube, replicas: int) -> None:
    version = with_keda(fake_kube)

    outcome = scale(replicas=replicas, autoscaler="adjust")

    paused = {PAUSED_REPLICAS: str(replicas)}
    assert patches(fake_kube) == [
        (
            "PATCH",
            scaled_object_path(NS, SCALED),
            MANAGED,
            MERGE,
            {
                "metadata": {
                    "resourceVersion": version,
                    "annotations": {RECORD: record({PAUSED_REPLICAS: None}, paused), **paused},
                }
            },
        )
    ]
    assert outcome.summary == (
        f"paused ScaledObject {NS}/{SCALED} at {replicas} replicas (annotation {PAUSED_REPLICAS}: "
        f'"{replicas}", was none), so KEDA scales deployment {NS}/{WORKERS} from 3 to {replicas} replicas'
    )
    assert outcome.details["autoscaler"] == {
        "kind": "ScaledObject",
        "name": SCALED,
        "before": {PAUSED_REPLICAS: None},
        "after": paused,
    }
    # KEDA's own HPA is left to KEDA; the (fake) operator scaled the workers.
    assert fake_kube.hpa(NS, f"keda-hpa-{SCALED}")["metadata"].get("annotations") is None
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == replicas


def test_without_keda_installed_the_scaled_object_list_answers_404_and_scaling_goes_on(
    fake_kube: FakeKube,
) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.fail(404, method="GET", path=scaled_objects_path(NS))  # as when the CRD is absent

    outcome = scale(replicas=2)

    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 2 replicas"


# --- restore --------------------------------------------------------------------------------------


def test_restore_puts_back_the_hpas_bounds_from_before_the_first_adjust(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube, replicas=3, low=2, high=10)
    scale(by=4, autoscaler="adjust")  # min 2 → 7
    scale(by=4, autoscaler="adjust")  # min 7 → 11, max 10 → 11
    fake_kube.clear_requests()
    version = fake_kube.hpa(NS, HPA)["metadata"]["resourceVersion"]

    outcome = scale(autoscaler="restore")

    assert sent(fake_kube) == [
        *LOOKUP,
        (
            "PATCH",
            hpa_path(NS, HPA),
            MANAGED,
            MERGE,
            {
                "metadata": {"resourceVersion": version, "annotations": {RECORD: None}},
                "spec": {"maxReplicas": 10, "minReplicas": 2},
            },
        ),
    ]
    assert outcome.summary == (
        f"restored HorizontalPodAutoscaler {NS}/{HPA} to minReplicas 2, maxReplicas 10 "
        "(the adjust had set minReplicas 11, maxReplicas 11)"
    )
    hpa = fake_kube.hpa(NS, HPA)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert RECORD not in (hpa["metadata"].get("annotations") or {})


@pytest.mark.parametrize(("earlier", "restored"), [(None, None), ("2", "2")])
def test_restore_resumes_keda_or_puts_back_its_earlier_pause(
    fake_kube: FakeKube, earlier: str | None, restored: str | None
) -> None:
    with_keda(fake_kube, annotations={PAUSED_REPLICAS: earlier} if earlier else None)
    scale(replicas=0, autoscaler="adjust")
    fake_kube.clear_requests()

    outcome = scale(autoscaler="restore")

    [patch] = patches(fake_kube)
    assert patch[4]["metadata"]["annotations"] == {RECORD: None, PAUSED_REPLICAS: restored}
    annotations = fake_kube.scaled_object(NS, SCALED)["metadata"].get("annotations") or {}
    assert annotations == ({PAUSED_REPLICAS: earlier} if earlier else {})
    was = "no autoscaling.keda.sh/paused-replicas annotation" if earlier is None else f'{PAUSED_REPLICAS} "2"'
    assert outcome.summary == (
        f'restored ScaledObject {NS}/{SCALED} to {was} (the adjust had set {PAUSED_REPLICAS} "0")'
    )


def test_restore_with_nothing_on_record_is_a_clear_no_op(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)

    outcome = scale(autoscaler="restore")

    assert sent(fake_kube) == LOOKUP
    assert outcome.summary == (
        f"nothing to restore for deployment {NS}/{WORKERS}: HorizontalPodAutoscaler {NS}/{HPA} "
        f"(minReplicas 2, maxReplicas 10) carries no record of an `autoscaler: adjust` (annotation {RECORD})"
    )


def test_without_an_autoscaler_adjust_scales_as_usual_and_restore_has_nothing_to_do(
    fake_kube: FakeKube,
) -> None:
    fake_kube.add_deployment(NS, WORKERS)

    adjusted = scale(replicas=5, autoscaler="adjust")
    restored = scale(autoscaler="restore")

    assert adjusted.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 5 replicas"
    assert restored.summary == f"nothing to restore for deployment {NS}/{WORKERS}: no autoscaler drives it"
    assert [(r[0], r[1]) for r in patches(fake_kube)] == [("PATCH", scale_path(NS, WORKERS))]
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 5


def test_restore_leaves_an_autoscaler_someone_changed_since_the_adjust(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)
    scale(replicas=5, autoscaler="adjust")
    fake_kube.edit_hpa(NS, HPA, lambda hpa: hpa["spec"].update(minReplicas=7))  # a person raised it further
    fake_kube.clear_requests()

    with pytest.raises(ActionError) as err:
        scale(autoscaler="restore")

    assert str(err.value) == (
        f"not restoring HorizontalPodAutoscaler {NS}/{HPA}: it changed since the adjust (minReplicas 7, "
        "maxReplicas 10; the adjust set minReplicas 5, maxReplicas 10), and that later change wins; before "
        "the adjust it had minReplicas 2, maxReplicas 10: put that back by hand if still wanted, and remove "
        f"its annotation {RECORD}"
    )
    assert patches(fake_kube) == []


# --- dry run ------------------------------------------------------------------------------------


def test_dry_run_adjust_sends_dry_run_all_and_changes_nothing(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)
    before = fake_kube.hpa(NS, HPA)

    outcome = scale(make_ctx(dry_run=True), replicas=5, autoscaler="adjust")

    [patch] = patches(fake_kube)
    assert patch[1] == hpa_path(NS, HPA)
    assert patch[2] == {"dryRun": "All", **MANAGED}
    assert outcome.summary == (
        f"would set HorizontalPodAutoscaler {NS}/{HPA} to minReplicas 5 (was 2), maxReplicas 10, "
        f"so deployment {NS}/{WORKERS} would keep at least 5 replicas (now 3)"
    )
    assert outcome.details["dry_run"] is True
    assert fake_kube.hpa(NS, HPA) == before
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 3


def test_dry_run_restore_sends_dry_run_all_and_keeps_the_record(fake_kube: FakeKube) -> None:
    with_hpa(fake_kube)
    scale(replicas=5, autoscaler="adjust")
    adjusted = fake_kube.hpa(NS, HPA)
    fake_kube.clear_requests()

    outcome = scale(make_ctx(dry_run=True), autoscaler="restore")

    assert [r[2] for r in patches(fake_kube)] == [{"dryRun": "All", **MANAGED}]
    assert outcome.summary.startswith(f"would restore HorizontalPodAutoscaler {NS}/{HPA} to minReplicas 2")
    assert fake_kube.hpa(NS, HPA) == adjusted


# --- GitOps ownership -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "annotations", "owner"),
    [
        ({ARGO_INSTANCE: "embedding-prod"}, {}, "Argo CD application embedding-prod"),
        (
            {},
            {"argocd.argoproj.io/tracking-id": f"embedding-prod:apps/Deployment:{NS}/{WORKERS}"},
            "Argo CD application embedding-prod",
        ),
        (
            {
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
            },
            {},
            "Flux Kustomization flux-system/apps",
        ),
        ({"helm.toolkit.fluxcd.io/name": "workers"}, {}, "Flux HelmRelease workers"),
    ],
)
def test_a_gitops_managed_deployment_is_scaled_with_a_warning(
    fake_kube: FakeKube, labels: dict[str, str], annotations: dict[str, str], owner: str
) -> None:
    fake_kube.add_deployment(NS, WORKERS, metadata_labels=labels, annotations=annotations)

    outcome = scale(replicas=5)

    warning = (
        f"deployment {NS}/{WORKERS} is managed by {owner}: GitOps self-heal may revert this change; "
        "make it in Git too to keep it"
    )
    assert outcome.summary == f"scaled deployment {NS}/{WORKERS} from 3 to 5 replicas; warning: {warning}"
    assert outcome.details["warnings"] == [warning]
    assert fake_kube.deployment(NS, WORKERS)["spec"]["replicas"] == 5


def test_a_deployment_without_gitops_marks_gets_no_warning(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS, metadata_labels={"app.kubernetes.io/managed-by": "Helm"})

    outcome = scale(replicas=5)

    assert "warning" not in outcome.summary
    assert "warnings" not in outcome.details


# --- RBAC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "resource"),
    [(hpas_path(NS), "horizontalpodautoscalers"), (scaled_objects_path(NS), "scaledobjects")],
)
def test_a_forbidden_autoscaler_list_names_the_missing_permission(
    fake_kube: FakeKube, path: str, resource: str
) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.fail(403, method="GET", path=path)

    with pytest.raises(ActionError) as err:
        scale(replicas=5)

    assert str(err.value) == (
        f"forbidden: the service account cannot list {resource} in namespace {NS}; see deploy/rbac.yaml"
    )
    assert not err.value.retryable
    assert patches(fake_kube) == []


# --- through the real pipeline: alert → playbook → step → timeline ----------------------------------

RULE = """
- name: queue_depth_high
  matchers: ['alertname = "QueueDepthHigh"']
  playbooks: [scale_workers_through_autoscaler]
  on_resolved: [restore_workers_autoscaler]
  group_by: [alertname]
"""
ADJUST_PLAYBOOK = f"""
name: scale_workers_through_autoscaler
steps:
  - action: kubernetes.scale
    with: {{namespace: {NS}, deployment: {WORKERS}, by: 2, max: 10, autoscaler: adjust}}
"""
RESTORE_PLAYBOOK = f"""
name: restore_workers_autoscaler
steps:
  - action: kubernetes.scale
    with: {{namespace: {NS}, deployment: {WORKERS}, autoscaler: restore}}
"""


@pytest.fixture
def scaling_config(config_dir: Path) -> Path:
    """The basic config plus a rule scaling the workers through their autoscaler and restoring it."""
    with (config_dir / "responder.yaml").open("a") as f:
        f.write(f"kubernetes:\n  allowed_namespaces: [{NS}]\n")
    (config_dir / "rules" / "20-scaling.yaml").write_text(RULE)
    (config_dir / "playbooks" / "scale_workers_through_autoscaler.yaml").write_text(ADJUST_PLAYBOOK)
    (config_dir / "playbooks" / "restore_workers_autoscaler.yaml").write_text(RESTORE_PLAYBOOK)
    return config_dir


def test_an_alert_adjusts_the_hpa_with_a_gitops_warning_in_the_timeline_and_resolving_restores_it(
    fake_kube: FakeKube, scaling_config: Path, runtime: Runtime
) -> None:
    fake_kube.add_deployment(NS, WORKERS, replicas=3, metadata_labels={ARGO_INSTANCE: "embedding-prod"})
    fake_kube.add_hpa(NS, HPA, target=WORKERS, min_replicas=2, max_replicas=10)
    client = create_app(runtime).test_client()
    firing = alert("QueueDepthHigh", fingerprint="fp-queue")

    assert client.post("/webhook/alertmanager", data=body(firing)).status_code == 200
    drain(runtime)

    [incident] = incidents_of(runtime)
    [ok] = events(runtime, incident["id"], "step.ok")
    warning = (
        f"deployment {NS}/{WORKERS} is managed by Argo CD application embedding-prod: GitOps self-heal "
        "may revert this change; make it in Git too to keep it"
    )
    assert ok["message"] == (
        "scale_workers_through_autoscaler step 1/1 (kubernetes.scale): set HorizontalPodAutoscaler "
        f"{NS}/{HPA} to minReplicas 5 (was 2), maxReplicas 10, so deployment {NS}/{WORKERS} keeps at "
        f"least 5 replicas (now 3); warning: {warning}"
    )
    assert ok["details"]["result"]["warnings"] == [warning]
    assert ok["details"]["result"]["autoscaler"]["after"] == {"minReplicas": 5, "maxReplicas": 10}
    assert [(r[0], r[1]) for r in patches(fake_kube)] == [("PATCH", hpa_path(NS, HPA))]

    resolved = alert("QueueDepthHigh", status="resolved", fingerprint="fp-queue")
    assert client.post("/webhook/alertmanager", data=body(resolved)).status_code == 200
    drain(runtime)

    restored = events(runtime, incident["id"], "step.ok")[-1]
    assert restored["message"] == (
        "restore_workers_autoscaler step 1/1 (kubernetes.scale): restored HorizontalPodAutoscaler "
        f"{NS}/{HPA} to minReplicas 2, maxReplicas 10 (the adjust had set minReplicas 5, maxReplicas 10)"
    )
    hpa = fake_kube.hpa(NS, HPA)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert [(r[0], r[1]) for r in patches(fake_kube)] == [("PATCH", hpa_path(NS, HPA))] * 2
