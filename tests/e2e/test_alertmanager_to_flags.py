"""The real Alertmanager posting to a running ``responder up``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Alertmanager, Responder
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def quota_alert(ends_at: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "APIQuotaExhaustion", "severity": "critical", "service": "embedding"},
        "annotations": {"summary": "API quota near exhaustion"},
        "generatorURL": "http://prometheus:9090/graph",
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


def test_alert_through_alertmanager_changes_flags_and_resolution_runs_on_resolved(
    alertmanager: Alertmanager, responder_up: Responder
) -> None:
    assert responder_up.api("/api/flags").json()["nonCriticalProcessing"] == {"enabled": True}

    alertmanager.push([quota_alert()])

    def conservative() -> bool:
        """the rule's playbooks switched the flags"""
        current = responder_up.api("/api/flags").json()
        return bool(
            current["rateLimits"].get("profile") == "conservative"
            and current["nonCriticalProcessing"] == {"enabled": False}
        )

    eventually(conservative)
    [incident] = responder_up.api("/api/incidents").json()["incidents"]
    assert incident["status"] == "triggered"
    assert incident["rule"] == "api_quota_exhaustion"

    alertmanager.push([quota_alert(ends_at=datetime.now(UTC) - timedelta(seconds=1))])

    def resolved() -> bool:
        """the incident resolved and on_resolved turned processing back on"""
        flags = responder_up.api("/api/flags").json()
        shown = responder_up.api(f"/api/incidents/{incident['id']}").json()
        return shown["status"] == "resolved" and flags["nonCriticalProcessing"] == {"enabled": True}

    eventually(resolved)
    timeline = responder_up.api(f"/api/incidents/{incident['id']}").json()["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("playbook.completed") == 3
    assert "alert.resolved" in kinds
