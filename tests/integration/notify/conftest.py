"""Fixtures for the channel tests: fake Slack and PagerDuty on loopback, a real SMTP server, Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme

from responder.config.loader import LoadedConfig
from responder.config.models import ResponderConfig, Team
from responder.store.keys import Keys
from tests.fakes.notify_env import PUBLIC_URL, SECRETS
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


# The servers live for the session (stopping one takes half a second); each test gets them reset.


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
def env(slack: FakeSlack, pagerduty: FakePagerDuty, smtp: SmtpServer, ca_file: str) -> dict[str, str]:
    """The responder's environment (DESIGN §6), pointing every channel at its fake."""
    return {
        "SLACK_BOT_TOKEN": SECRETS.slack_token,
        "SLACK_SIGNING_SECRET": SECRETS.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "PAGERDUTY_API_URL": pagerduty.url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_FROM": "Alert Responder <responder@example.com>",
        "SSL_CERT_FILE": ca_file,
    }


@pytest.fixture
def teams() -> dict[str, Team]:
    return {
        "dev-team": Team(
            slack="#embedding-dev", email=["dev-team@example.com"], pagerduty=SECRETS.pd_key_dev
        ),
        "ops-team": Team(slack="#ops", email=["ops@example.com"], pagerduty=SECRETS.pd_key_ops),
        "management": Team(email=["eng-managers@example.com"]),
    }


@pytest.fixture
def config(teams: dict[str, Team], tmp_path: Path) -> LoadedConfig:
    responder = ResponderConfig(
        teams=teams,
        escalation_policies={
            "default": [["dev-team"], ["dev-team", "ops-team"], ["dev-team", "ops-team", "management"]]
        },
        public_url=PUBLIC_URL,
    )
    return LoadedConfig(directory=tmp_path, responder=responder, rules=[], playbooks={})


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[Keys]:
    keys = Keys(prefix=f"test-notify-{uuid.uuid4().hex[:12]}")
    yield keys
    for key in redis_client.scan_iter(match=f"{keys.prefix}:*", count=500):
        redis_client.delete(key)


@pytest.fixture
def incident() -> dict[str, object]:
    return {
        "id": "inc-20250101-0001",
        "key": "api_quota_exhaustion/alertname=APIQuotaExhaustion",
        "rule": "api_quota_exhaustion",
        "severity": "critical",
        "status": "triggered",
        "title": "APIQuotaExhaustion",
        "summary": "API quota at 97% <embedding-api> & rising",
        "labels": {
            "alertname": "APIQuotaExhaustion",
            "severity": "critical",
            "namespace": "embedding",
            "service": "embedding-api",
        },
        "annotations": {"summary": "API quota at 97%", "runbook": "https://runbooks.example.com/quota"},
        "generator_url": "http://prometheus.example.com/graph?g0.expr=quota_used%3E0.95",
    }
