"""Fixtures for the notification fakes: fake Slack and PagerDuty on loopback, a real SMTP server.

The servers live for the session (stopping one takes half a second); the function-scoped
fixtures hand them out reset.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from tests.fakes.notify_env import SECRETS
from tests.fakes.pagerduty import FakePagerDuty
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
