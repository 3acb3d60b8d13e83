"""The Kubernetes manifests as `kubectl apply -k .` sends them: the config is generated from the
repository's own files, and the pods see it as a config directory the responder loads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from responder.runtime import load as load_config

ROOT = Path(__file__).resolve().parents[3]
# The oldest Kubernetes the manifests are meant for; newer API servers accept them too.
KUBERNETES_VERSION = "1.27"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed: .ci/run installs it (Debian package kubernetes-client)"
    done = subprocess.run(
        [kubectl, "kustomize", str(ROOT)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def config_maps(rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Generated ConfigMaps by name without kustomize's content hash."""
    return {
        doc["metadata"]["name"].rsplit("-", 1)[0]: doc["data"]
        for doc in rendered
        if doc["kind"] == "ConfigMap"
    }


def test_the_config_maps_hold_every_config_file_unchanged(rendered: list[dict[str, Any]]) -> None:
    def files(folder: str) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted((ROOT / folder).glob("*.y*ml"))}

    assert config_maps(rendered) == {
        "alert-responder-config": {"responder.yaml": (ROOT / "responder.yaml").read_text()},
        "alert-responder-rules": files("rules"),
        "alert-responder-playbooks": files("playbooks"),
    }


@pytest.mark.parametrize(
    "deployment", ["alert-responder-web", "alert-responder-worker", "alert-responder-control-worker"]
)
def test_pods_see_a_config_directory_that_loads(
    rendered: list[dict[str, Any]], deployment: str, tmp_path: Path
) -> None:
    # Lay out what the kubelet would mount, from the rendered manifests alone, then load it.
    by_name = {doc["metadata"]["name"]: doc["data"] for doc in rendered if doc["kind"] == "ConfigMap"}
    [pod] = [
        doc["spec"]["template"]["spec"]
        for doc in rendered
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == deployment
    ]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    root = tmp_path / "pod"
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        data = by_name[source["name"]]  # a name kustomize did not rewrite would not be found
        target = root / mount["mountPath"].lstrip("/")
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[mount["subPath"]])
        else:
            target.mkdir(parents=True, exist_ok=True)
            for key, text in data.items():
                (target / key).write_text(text)

    config = load_config(root / env["RESPONDER_CONFIG_DIR"].lstrip("/"))

    assert (len(config.rules), len(config.playbooks)) == (8, 11)


def test_the_manifests_are_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_control_lane_worker_runs_beside_the_general_ones(rendered: list[dict[str, Any]]) -> None:
    # A long step can hold up a page only where every worker serves steps (docs/operations.md, Lanes).
    args = {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]["args"]
        for doc in rendered
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] != "alert-responder-web"
    }
    assert args == {
        "alert-responder-worker": ["worker", "--health-port", "8080"],
        "alert-responder-control-worker": ["worker", "--lanes", "control", "--health-port", "8080"],
    }


def test_every_pod_is_probed_over_http_and_covered_by_a_disruption_budget(
    rendered: list[dict[str, Any]],
) -> None:
    deployments = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Deployment"}
    budgets = [doc for doc in rendered if doc["kind"] == "PodDisruptionBudget"]
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        [container] = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            assert container[probe]["httpGet"]["path"] == path, (name, probe)
            assert ports[container[probe]["httpGet"]["port"]] == 8080, (name, probe)
        covering = [
            b
            for b in budgets
            if b["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(covering) == 1, name
        assert covering[0]["spec"]["maxUnavailable"] == 1
        assert deployment["spec"]["replicas"] >= 2  # a budget of one leaves one running
        assert pod["spec"].get("terminationGracePeriodSeconds", 30) >= 30 or name == "alert-responder-web"
