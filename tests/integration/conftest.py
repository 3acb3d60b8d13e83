"""Fixtures for the integration tests: the notification fakes, the fake Kubernetes API, paging.

The fake servers live for the session (stopping one takes half a second); the function-scoped
fixtures hand them out reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from flask.testing import FlaskClient

from responder.actions.kubernetes import reset_client
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.alertmanager import RealAlertmanager
from tests.fakes.kube import FakeKube
from tests.fakes.kubeconfig import FAKE_CONTEXT, UNREACHABLE_CONTEXT, closed_port_url, write_kubeconfig
from tests.fakes.notify_env import SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.paging import Paging, paging_env, use_paging
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def slack_server() -> Iterator[FakeSlack]:
    fake = FakeSlack(SECRETS.slack_token, channels=["#embedding-dev", "#ops"]).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def pagerduty_server(ca: trustme.CA) -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty(ca, routing_keys=[SECRETS.pd_key_dev, SECRETS.pd_key_ops]).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack(slack_server: FakeSlack) -> FakeSlack:
    slack_server.reset()
    return slack_server


@pytest.fixture
def pagerduty(pagerduty_server: FakePagerDuty) -> FakePagerDuty:
    pagerduty_server.reset()
    return pagerduty_server


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.reset()
    return smtp_server


@pytest.fixture
def paging(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
    smtp: SmtpServer,
    ca_file: str,
) -> Paging:
    """Three-level paging config and every channel pointed at its fake (request it before ``runtime``)."""
    use_paging(config_dir)
    for name, value in paging_env(slack, pagerduty, smtp, ca_file).items():
        monkeypatch.setenv(name, value)
    return Paging(slack, pagerduty, smtp)


@pytest.fixture
def paged_client(paging: Paging, runtime: Runtime) -> FlaskClient:
    """The web app of a runtime with the paging config."""
    return create_app(runtime).test_client()


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


@pytest.fixture
def alertmanager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealAlertmanager]:
    """The real Alertmanager (a do-nothing receiver: tests post to the responder's webhook themselves);
    ``ALERTMANAGER_URL`` points at it."""
    directory = tmp_path / "alertmanager"
    directory.mkdir()
    try:
        am = RealAlertmanager.start(directory)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    monkeypatch.setenv("ALERTMANAGER_URL", am.url)
    try:
        yield am
    finally:
        am.stop()
