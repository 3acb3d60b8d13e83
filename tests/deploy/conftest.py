"""The container image that deploy/ci/build-image.sh builds, run with podman.

Tests marked ``image`` need that image, podman and docker-compose, which the script
builds and installs. Where the image is absent they are deselected and the run's summary
says why; in CI (``CI=true``), which runs the script before the tests, they always run and
fail if the image is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

IMAGE = os.environ.get("RESPONDER_TEST_IMAGE", "localhost/alert-responder:ci")
BUILD = "bash deploy/ci/build-image.sh"
_deselected = pytest.StashKey[tuple[int, str]]()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def image_missing() -> str | None:
    """Why the image cannot be run here, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    exists = subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True, timeout=60)
    return None if exists.returncode == 0 else f"{IMAGE} is not built"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"image: runs the container image that `{BUILD}` builds (deselected where it is absent)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("image")]
    if not marked or in_ci():
        return
    reason = image_missing()
    if reason is None:
        return
    config.hook.pytest_deselected(items=marked)
    items[:] = [item for item in items if not item.get_closest_marker("image")]
    config.stash[_deselected] = (len(marked), reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _deselected in config.stash:
        count, reason = config.stash[_deselected]
        terminalreporter.write_line(
            f"{count} image tests deselected: {reason} (build it as root with `{BUILD}`; CI does)"
        )


@pytest.fixture(scope="session")
def image() -> str:
    """The image's name; the test fails (never skips) when it is not there."""
    reason = image_missing()
    if reason is not None:
        pytest.fail(f"{reason}: CI builds it before the tests with `{BUILD}`", pytrace=False)
    return IMAGE


@pytest.fixture(scope="session")
def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail(f"docker-compose is not installed: `{BUILD}` installs it", pytrace=False)
    return found
