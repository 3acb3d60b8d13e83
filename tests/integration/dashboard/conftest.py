"""Fixtures for the dashboard: the app in its three access modes, a real server on a free port,
Debian's chromium driven by Playwright (the real Alertmanager is in tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.browser import launch
from tests.integration.dashboard.support import TOKEN, Served

SECRET = "dashboard-test-secret"

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
