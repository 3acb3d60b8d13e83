"""docker-compose.yml as Debian's docker-compose reads it (deploy/ci/build-image.sh builds its web)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.image

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
TOKENS = ("RESPONDER_WEBHOOK_TOKEN", "RESPONDER_API_TOKEN")


def compose_config(docker_compose: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in TOKENS}
    return subprocess.run(
        [docker_compose, "--file", str(COMPOSE_FILE), "config", "--quiet"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_is_valid_with_the_tokens_set(docker_compose: str) -> None:
    checked = compose_config(docker_compose, RESPONDER_WEBHOOK_TOKEN="w", RESPONDER_API_TOKEN="a")
    assert (checked.returncode, checked.stderr) == (0, "")


@pytest.mark.parametrize("missing", TOKENS)
def test_compose_refuses_to_start_without_a_token(docker_compose: str, missing: str) -> None:
    present = {name: "set" for name in TOKENS if name != missing}
    checked = compose_config(docker_compose, **present)
    assert checked.returncode == 1
    assert f"set {missing} (" in checked.stderr
