"""deploy/rbac.yaml grants exactly what the kubernetes.* actions send: every request allowed, every
permission used.

Each action runs against the fake API server; each request it makes is turned into the (API
group, resource, verb) the API server would authorize, and compared with the Role's rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.fakes.kube import FakeKube
from tests.integration.actions.kube_steps import APP, NS, WORKERS, make_ctx, run

RBAC = Path(__file__).parents[3] / "deploy" / "rbac.yaml"
_PATH = re.compile(
    r"^/apis/(?P<group>[^/]+)/[^/]+/namespaces/[^/]+/(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)

pytestmark = pytest.mark.usefixtures("kubeconfig")


def granted() -> set[tuple[str, str, str]]:
    [role] = [doc for doc in yaml.safe_load_all(RBAC.read_text()) if doc["kind"] == "Role"]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def authorized(fake: FakeKube) -> set[tuple[str, str, str]]:
    """What the API server authorizes for each request the fake received."""
    asked = set()
    for request in fake.requests:
        m = _PATH.match(request.path)
        assert m is not None, request.path
        resource = f"{m['resource']}/{m['sub']}" if m["sub"] else m["resource"]
        verb = {"PATCH": "patch", "GET": "get" if m["name"] else "list"}[request.method]
        asked.add((m["group"], resource, verb))
    return asked


def test_the_role_grants_exactly_what_the_actions_use(fake_kube: FakeKube) -> None:
    fake_kube.add_deployment(NS, WORKERS)
    fake_kube.add_deployment(NS, APP, revision=2)
    fake_kube.add_replicaset(NS, APP, revision=1, containers=[{"name": "app", "image": f"{APP}:1.0.0"}])
    fake_kube.add_deployment(NS, "hpa-workers")
    fake_kube.add_hpa(NS, "hpa-workers", target="hpa-workers", min_replicas=2)
    fake_kube.add_deployment(NS, "keda-workers")
    fake_kube.add_scaled_object(NS, "keda-workers", target="keda-workers")

    run("kubernetes.rollout_restart", namespace=NS, deployment=WORKERS)
    run("kubernetes.wait_rollout", make_ctx(timeout=30), namespace=NS, deployment=WORKERS)
    run("kubernetes.scale", namespace=NS, deployment=WORKERS, replicas=5)
    run("kubernetes.set_image", namespace=NS, deployment=APP, container="app", image=f"{APP}:2.0.0")
    run("kubernetes.rollback", namespace=NS, deployment=APP)
    for target in ("hpa-workers", "keda-workers"):
        run("kubernetes.scale", namespace=NS, deployment=target, replicas=4, autoscaler="adjust")
        run("kubernetes.scale", namespace=NS, deployment=target, autoscaler="restore")

    assert authorized(fake_kube) == granted()
    assert sorted(granted()) == [
        ("apps", "deployments", "get"),
        ("apps", "deployments", "patch"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "replicasets", "list"),
        ("autoscaling", "horizontalpodautoscalers", "list"),
        ("autoscaling", "horizontalpodautoscalers", "patch"),
        ("keda.sh", "scaledobjects", "list"),
        ("keda.sh", "scaledobjects", "patch"),
    ]
