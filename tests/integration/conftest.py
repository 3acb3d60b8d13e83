"""Fixtures for the integration tests beyond the shared ones in tests/conftest.py."""

from tests.fakes.kube_fixtures import fake_kube, kubeconfig
from tests.fakes.notify_fixtures import (
    ca,
    ca_file,
    pagerduty,
    pagerduty_server,
    slack,
    slack_server,
    smtp,
    smtp_server,
)

__all__ = [
    "ca",
    "ca_file",
    "fake_kube",
    "kubeconfig",
    "pagerduty",
    "pagerduty_server",
    "slack",
    "slack_server",
    "smtp",
    "smtp_server",
]
