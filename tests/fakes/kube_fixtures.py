"""Fixtures: the fake Kubernetes API server, and a kubeconfig pointing the real client at it.

Import them into a conftest (``from tests.fakes.kube_fixtures import fake_kube, kubeconfig``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from responder.actions.kubernetes import reset_client
from tests.fakes.kube import FakeKube

FAKE_CONTEXT = "fake"
UNREACHABLE_CONTEXT = "unreachable"


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_kubeconfig(path: Path, servers: dict[str, str], *, token: str, current_context: str) -> Path:
    """A kubeconfig with one context (and cluster) per entry of ``servers``, all using ``token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in servers.items()],
        "users": [{"name": "alert-responder", "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "alert-responder", "namespace": "embedding"}}
            for name in servers
        ],
        "current-context": current_context,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def fake_kube() -> Iterator[FakeKube]:
    fake = FakeKube().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def kubeconfig(fake_kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``KUBECONFIG`` pointing at the fake (context ``fake``, the current one) and at a closed port
    (context ``unreachable``); the responder's cached client is reset around the test."""
    path = write_kubeconfig(
        tmp_path / "kubeconfig",
        {FAKE_CONTEXT: fake_kube.url, UNREACHABLE_CONTEXT: closed_port_url()},
        token=fake_kube.token,
        current_context=FAKE_CONTEXT,
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    # Never the real cluster, even when the tests run inside a pod.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    reset_client()
    yield path
    reset_client()
