"""Fixtures for the dashboard: the app in its three access modes, a real server on a free port,
Debian's chromium driven by Playwright, and the real Alertmanager for Silence 1h."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from responder.runtime import Runtime
from responder.up import free_port
from responder.webhook.app import create_app
from tests.browser import launch
from tests.integration.dashboard.support import TOKEN, Served

SECRET = "dashboard-test-secret"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

APPROVAL_PLAYBOOK = """
name: careful_flag
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: 7}
    requires_approval: true
"""
APPROVAL_RULE = """
- name: careful
  matchers: ['alertname = "Careful"']
  severity: high
  playbooks: [careful_flag]
  group_by: [alertname]
"""


@pytest.fixture
def make_app(runtime: Runtime) -> Callable[..., Flask]:
    """``create_app`` around the test's runtime with a fixed session key; keyword arguments pass on."""

    def make(**options: object) -> Flask:
        return create_app(runtime, secret_key=SECRET, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def open_client(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    """No tokens (``responder up`` on loopback): no login, the user is $USER (here "carol")."""
    monkeypatch.setenv("USER", "carol")
    return make_app().test_client()


@pytest.fixture
def token_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """RESPONDER_API_TOKEN set: /ui/login first."""
    return make_app(api_token=TOKEN).test_client()


@pytest.fixture
def approval_config(config_dir: Path) -> Path:
    """Rule ``careful`` (alert ``Careful``): its step waits for approval. Request it before ``runtime``."""
    (config_dir / "playbooks" / "careful_flag.yaml").write_text(APPROVAL_PLAYBOOK)
    (config_dir / "rules" / "20-careful.yaml").write_text(APPROVAL_RULE)
    return config_dir


# -- a real server and a real browser ---------------------------------------------------------------


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], Served]]:
    """Serve an app on a free port for the test's duration (call with the app)."""
    started: list[Served] = []

    def start(app: Flask) -> Served:
        served = Served(app).__enter__()
        started.append(served)
        return served

    yield start
    for served in started:
        served.__exit__()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# -- the real Alertmanager ---------------------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real Alertmanager with a do-nothing receiver; ``ALERTMANAGER_URL`` points at it."""
    if ALERTMANAGER is None:
        pytest.fail("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    port = free_port()
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _ready(url + "/-/ready"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("Alertmanager did not become ready within 30 s")
        time.sleep(0.1)
    monkeypatch.setenv("ALERTMANAGER_URL", url)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(15)


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
