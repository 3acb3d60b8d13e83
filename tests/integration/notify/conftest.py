"""Fixtures for the channel tests (the fake servers come from tests/integration/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from responder.config.loader import LoadedConfig
from responder.config.models import ResponderConfig, Team
from responder.store.keys import Keys
from responder.store.records import Incident, IncidentStatus
from tests.fakes.notify_env import PUBLIC_URL, SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer


@pytest.fixture
def env(slack: FakeSlack, pagerduty: FakePagerDuty, smtp: SmtpServer, ca_file: str) -> dict[str, str]:
    """The responder's environment (docs/operations.md, Environment), pointing every channel at its fake."""
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
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[Keys]:
    keys = Keys(prefix=f"test-notify-{uuid.uuid4().hex[:12]}")
    yield keys
    for key in redis_client.scan_iter(match=f"{keys.prefix}:*", count=500):
        redis_client.delete(key)


@pytest.fixture
def incident() -> Incident:
    return Incident(
        id="inc-20250101-0001",
        key="api_quota_exhaustion/alertname=APIQuotaExhaustion",
        rule="api_quota_exhaustion",
        severity="critical",
        status=IncidentStatus.TRIGGERED,
        title="APIQuotaExhaustion",
        summary="API quota at 97% <embedding-api> & rising",
        labels={
            "alertname": "APIQuotaExhaustion",
            "severity": "critical",
            "namespace": "embedding",
            "service": "embedding-api",
        },
        annotations={"summary": "API quota at 97%", "runbook": "https://runbooks.example.com/quota"},
        group={"alertname": "APIQuotaExhaustion"},
        created_at=1767225600.0,
        updated_at=1767225600.0,
        generator_url="http://prometheus.example.com/graph?g0.expr=quota_used%3E0.95",
    )
