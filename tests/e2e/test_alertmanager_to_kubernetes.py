"""The real Alertmanager posting to a running ``responder up`` whose worker restarts a Deployment.

The Kubernetes API is the protocol-level fake on loopback; ``responder up`` (and so its worker)
finds it through ``KUBECONFIG``, as it would find a real cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Alertmanager, Responder
from tests.fakes.kube import STRATEGIC_MERGE, FakeKube, deployment_path
from tests.fakes.kubeconfig import FAKE_CONTEXT, write_kubeconfig
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

NS = "embedding"
WORKERS = "embedding-queue-workers"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
PLAYBOOK = "restart_embedding_workers"


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    """The fake API server with the queue workers' Deployment, and ``KUBECONFIG`` pointing at it."""
    fake = FakeKube().start()
    fake.add_deployment(NS, WORKERS)
    path = write_kubeconfig(
        tmp_path / "kubeconfig", {FAKE_CONTEXT: fake.url}, token=fake.token, current_context=FAKE_CONTEXT
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # never a real cluster
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def config_dir(config_dir: Path, kube: FakeKube) -> Path:
    """The basic config plus a rule restarting the workers, with ``embedding`` allowed.

    Depending on ``kube`` puts ``KUBECONFIG`` in the environment before ``responder_up``
    (which needs this fixture) copies the environment for ``responder up``.
    """
    with (config_dir / "responder.yaml").open("a") as f:
        f.write("kubernetes:\n  allowed_namespaces: [embedding]\n")
    (config_dir / "rules" / "20-kubernetes.yaml").write_text(f"""
- name: queue_workers_down
  matchers: ['alertname = "QueueWorkersDown"']
  severity: critical
  playbooks: [{PLAYBOOK}]
  group_by: [alertname]
""")
    (config_dir / "playbooks" / f"{PLAYBOOK}.yaml").write_text(f"""
name: {PLAYBOOK}
steps:
  - action: kubernetes.rollout_restart
    with: {{namespace: {NS}, deployment: "{{{{ alert.labels.deployment }}}}"}}
    timeout: 30s
""")
    return config_dir


def workers_down_alert() -> dict[str, Any]:
    return {
        "labels": {"alertname": "QueueWorkersDown", "severity": "critical", "deployment": WORKERS},
        "annotations": {"summary": "No embedding queue worker is consuming"},
        "generatorURL": "http://prometheus:9090/graph",
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }


def test_alert_through_alertmanager_restarts_the_deployment_once(
    kube: FakeKube, alertmanager: Alertmanager, responder_up: Responder
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    alertmanager.push([workers_down_alert()])

    def step_ok() -> list[dict[str, Any]]:
        """the incident's timeline shows the restart step ok"""
        incidents = responder_up.api("/api/incidents").json()["incidents"]
        if not incidents:
            return []
        timeline = responder_up.api(f"/api/incidents/{incidents[0]['id']}").json()["timeline"]
        return [e for e in timeline if e["kind"] == "step.ok"]

    [ok] = eventually(step_ok)
    time.sleep(2.5)  # a few Alertmanager group intervals: a repeated notification must not restart again

    patches = [r for r in kube.requests if r.method == "PATCH"]
    assert len(patches) == 1
    [patch] = patches
    assert patch.path == deployment_path(NS, WORKERS)
    assert patch.content_type == STRATEGIC_MERGE
    assert patch.query == {"fieldManager": "alert-responder"}
    assert patch.headers["authorization"] == f"Bearer {kube.token}"
    stamp = patch.body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert patch.body == {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    assert before <= datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    # The (fake) controller rolled out a new ReplicaSet: the pods really are being replaced.
    assert kube.deployment(NS, WORKERS)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"

    assert ok["message"] == (
        f"{PLAYBOOK} step 1/1 (kubernetes.rollout_restart): "
        f"restarted deployment {NS}/{WORKERS} (3 replicas, rolling)"
    )
    assert ok["details"]["outcome"] == "ok"
    assert ok["details"]["result"] == {
        "namespace": NS,
        "deployment": WORKERS,
        "restartedAt": stamp,
        "dry_run": False,
    }
    [incident] = responder_up.api("/api/incidents").json()["incidents"]
    assert incident["rule"] == "queue_workers_down"
    kinds = [e["kind"] for e in responder_up.api(f"/api/incidents/{incident['id']}").json()["timeline"]]
    assert kinds.count("step.ok") == 1
    assert "playbook.completed" in kinds
