"""The image as an operator runs it: `check`, `up` against a real Redis, its health check."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from responder.store.keys import Keys
from responder.up import free_port
from tests.helpers import eventually

pytestmark = pytest.mark.image

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_TOKEN = "image-test-webhook-token-3c1e"
API_TOKEN = "image-test-api-token-8b2f"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=180, check=check)


@pytest.fixture
def container() -> Iterator[str]:
    """A name for the test's container, which is removed afterwards whatever happened."""
    name = f"alert-responder-test-{uuid.uuid4().hex[:10]}"
    yield name
    podman("rm", "--force", "--time", "0", name, check=False)


def running(name: str) -> bool:
    state = podman("container", "inspect", "--format", "{{.State.Running}}", name, check=False)
    return state.stdout.strip() == "true"


def wait_until_serving(name: str, url: str, timeout: float = 90.0) -> None:
    """Until ``url`` answers 200; fail at once with the container's log if it stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(name):
            pytest.fail(f"container {name} stopped:\n{podman('logs', name, check=False).stderr[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer 200 within {timeout}s")


def stop(name: str) -> int:
    """SIGTERM, as `docker stop` and Kubernetes do; the container's exit code."""
    podman("stop", "--time", "30", name)
    return int(podman("container", "inspect", "--format", "{{.State.ExitCode}}", name).stdout)


def test_check_in_the_image_passes_on_the_config_the_repository_ships(image: str) -> None:
    in_image = podman("run", "--rm", image, "check")
    here = subprocess.run(
        [sys.executable, "-m", "responder", "check", "--config", str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    )
    # "ok: 8 rules, 11 playbooks, 3 teams, 7 flags in <dir>": the same counts, another place.
    summary = in_image.stdout.splitlines()[0].split(" in ")[0]
    assert summary.startswith("ok: ")
    assert summary == here.stdout.splitlines()[0].split(" in ")[0]


def test_up_in_the_image_takes_the_sample_alert_and_runs_its_playbooks(
    image: str, container: str, redis_url: str, keys: Keys
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    podman(
        "run",
        "--detach",
        "--name",
        container,
        "--network=host",
        "--env",
        f"REDIS_URL={redis_url}",
        "--env",
        f"RESPONDER_KEY_PREFIX={keys.prefix}",
        "--env",
        f"RESPONDER_WEBHOOK_TOKEN={WEBHOOK_TOKEN}",
        "--env",
        f"RESPONDER_API_TOKEN={API_TOKEN}",
        image,
        "up",
        "--bind",
        f"127.0.0.1:{port}",
    )
    wait_until_serving(container, url + "/ready")
    assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
    ready = requests.get(url + "/ready", timeout=5).json()
    assert (ready["status"], ready["detail"]["redis"]) == ("ready", "ok")

    accepted = requests.post(
        url + "/webhook/alertmanager",
        data=(REPO / "alertmanager" / "sample-alert.json").read_bytes(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        timeout=5,
    )
    assert (accepted.status_code, accepted.json()) == (200, {"accepted": 1, "duplicates": 0})

    api = {"Authorization": f"Bearer {API_TOKEN}"}

    def incidents() -> list[dict[str, str]]:
        """the container's worker opened the incident"""
        listed: list[dict[str, str]] = requests.get(url + "/api/incidents", headers=api, timeout=5).json()[
            "incidents"
        ]
        return listed

    opened = eventually(incidents)
    assert [(i["rule"], i["status"], i["title"]) for i in opened] == [
        ("api_quota_exhaustion", "triggered", "APIQuotaExhaustion")
    ]

    def conservative() -> bool:
        """the rule's playbook switched the rate-limit profile to conservative"""
        flags = requests.get(url + "/api/flags", headers=api, timeout=5).json()
        return bool(flags.get("rateLimits", {}).get("profile") == "conservative")

    eventually(conservative)
    assert stop(container) == 0


def test_the_image_health_check_reports_the_default_command_healthy(image: str, container: str) -> None:
    # The HEALTHCHECK asks 127.0.0.1:8080, where the default command serves. So the container
    # gets a network namespace of its own (8080 may be taken on this machine) holding a
    # private Redis on its loopback, the default REDIS_URL.
    redis = subprocess.Popen(
        [
            "unshare",
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec redis-server --port 6379 --bind 127.0.0.1 --save '' "
            "--appendonly no --daemonize no --dir /tmp",
        ],
        stdout=subprocess.DEVNULL,
    )
    netns = f"/proc/{redis.pid}/ns/net"  # sh execs redis-server: the same process
    try:

        def redis_up() -> bool:
            """the private Redis answers in its namespace"""
            ping = subprocess.run(
                ["nsenter", f"--net={netns}", "redis-cli", "ping"], capture_output=True, text=True
            )
            return ping.stdout.strip() == "PONG"

        eventually(redis_up, timeout=15)
        podman(
            "run",
            "--detach",
            "--name",
            container,
            f"--network=ns:{netns}",
            "--env",
            f"RESPONDER_WEBHOOK_TOKEN={WEBHOOK_TOKEN}",
            "--env",
            f"RESPONDER_API_TOKEN={API_TOKEN}",
            image,
        )

        def healthy() -> bool:
            """`podman healthcheck run` (the image's HEALTHCHECK) passes"""
            if not running(container):
                pytest.fail(f"container stopped:\n{podman('logs', container, check=False).stderr[-3000:]}")
            return podman("healthcheck", "run", container, check=False).returncode == 0

        eventually(healthy, timeout=90)
        state = podman("container", "inspect", "--format", "{{.State.Health.Status}}", container)
        assert state.stdout.strip() == "healthy"
        assert stop(container) == 0
    finally:
        redis.terminate()
        redis.wait(15)


def test_the_image_runs_as_its_own_user_and_keeps_nothing_of_the_build(image: str) -> None:
    assert json.loads(podman("image", "inspect", image).stdout)[0]["Config"]["User"] == "10001:10001"
    assert podman("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip() == "10001"
    # The package index, CA bundle and any credentials the build used were the build's:
    # no pip config file in the image (only the Dockerfile's ENV), nothing of them in the
    # environment.
    pip_config = podman("run", "--rm", "--entrypoint", "pip", image, "config", "list").stdout
    assert [line for line in pip_config.splitlines() if not line.startswith(":env:.")] == []
    env = podman("run", "--rm", "--entrypoint", "env", image).stdout.splitlines()
    names = {line.partition("=")[0] for line in env}
    assert {n for n in names if n.startswith("PIP_")} == {"PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}
    assert {n for n in names if any(word in n for word in ("TOKEN", "SECRET", "PASSWORD", "CERT"))} == set()
    # The CAs this machine adds to its trust (a proxy's, here) served the build only.
    bundle = "".join(podman("run", "--rm", "--entrypoint", "cat", image, CA_BUNDLE).stdout.split())
    local = [pem_bodies(path.read_text()) for path in sorted(LOCAL_CAS.glob("*.crt"))]
    assert [body for bodies in local for body in bodies if body in bundle] == []


def pem_bodies(text: str) -> list[str]:
    """The base64 of each certificate in a PEM file, without line breaks."""
    blocks = text.split("-----END CERTIFICATE-----")
    return [
        "".join(block.split("-----BEGIN CERTIFICATE-----")[-1].split()) for block in blocks if block.strip()
    ]
