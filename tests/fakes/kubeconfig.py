"""Kubeconfigs that point the real Kubernetes client at the fake API server (or at a closed port)."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

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
