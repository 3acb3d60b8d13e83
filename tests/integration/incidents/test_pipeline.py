"""Webhook to flags, through the real Redis and a real RQ worker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def post(client: FlaskClient, data: bytes) -> Any:
    return client.post("/webhook/alertmanager", data=data, content_type="application/json")


def incidents(client: FlaskClient, status: str | None = None) -> list[dict[str, Any]]:
    url = "/api/incidents" + (f"?status={status}" if status else "")
    return list(client.get(url).get_json()["incidents"])


def timeline_kinds(client: FlaskClient, incident_id: str) -> list[str]:
    return [e["kind"] for e in client.get(f"/api/incidents/{incident_id}").get_json()["timeline"]]


def test_alert_opens_incident_and_playbooks_change_flags(client: FlaskClient, runtime: Runtime) -> None:
    response = post(client, body(alert("APIQuotaExhaustion")))
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 1, "duplicates": 0}

    drain(runtime)

    current = client.get("/api/flags").get_json()
    assert current["rateLimits"]["profile"] == "conservative"
    assert current["rateLimits"]["requestsPerMinute"] == 30
    assert current["nonCriticalProcessing"] == {"enabled": False}
    [incident] = incidents(client)
    assert incident["status"] == "triggered"
    assert incident["severity"] == "critical"
    assert incident["rule"] == "api_quota_exhaustion"
    kinds = timeline_kinds(client, incident["id"])
    assert kinds.count("playbook.completed") == 2
    assert kinds.count("step.ok") == 3


def test_duplicate_webhook_runs_playbook_once(client: FlaskClient, runtime: Runtime) -> None:
    # Two Alertmanager replicas post the same group.
    first = post(client, body(alert("APIQuotaExhaustion")))
    second = post(client, body(alert("APIQuotaExhaustion")))
    assert first.get_json() == {"accepted": 1, "duplicates": 0}
    assert second.get_json() == {"accepted": 0, "duplicates": 1}

    drain(runtime)

    [incident] = incidents(client)
    kinds = timeline_kinds(client, incident["id"])
    assert kinds.count("playbook.started") == 2  # two playbooks, each once
    assert kinds.count("alert.received") == 0


def test_mixed_payload_is_handled_per_alert(client: FlaskClient, runtime: Runtime) -> None:
    post(client, body(alert("APIQuotaExhaustion", fingerprint="aaa1")))
    drain(runtime)
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}

    # One payload: the quota alert resolved, and a new, unrelated alert firing.
    mixed = body(
        alert("APIQuotaExhaustion", status="resolved", fingerprint="aaa1"),
        alert("Templated", fingerprint="bbb2", note="hello"),
    )
    assert post(client, mixed).get_json() == {"accepted": 2, "duplicates": 0}
    drain(runtime)

    by_rule = {i["rule"]: i for i in incidents(client)}
    assert by_rule["api_quota_exhaustion"]["status"] == "resolved"
    assert by_rule["templated"]["status"] == "triggered"
    # Resolution ran on_resolved (resume_non_critical), then the templated playbook set its value.
    kinds = timeline_kinds(client, by_rule["api_quota_exhaustion"]["id"])
    assert "incident.resolved" in kinds
    assert kinds.count("playbook.completed") == 3


def test_resolution_runs_on_resolved_playbooks(client: FlaskClient, runtime: Runtime) -> None:
    post(client, body(alert("APIQuotaExhaustion")))
    drain(runtime)
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}

    post(client, body(alert("APIQuotaExhaustion", status="resolved")))
    drain(runtime)

    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": True}
    [incident] = incidents(client, "resolved")
    assert incident["resolved_by"] == "alertmanager"


def test_label_values_are_data_not_templates(client: FlaskClient, runtime: Runtime) -> None:
    post(client, body(alert("Templated", note="{{ 7*7 }} {% raw %}")))
    drain(runtime)
    value = flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing")
    assert value == {"note": "{{ 7*7 }} {% raw %}", "severity": "critical"}


def test_unmatched_alert_is_recorded_and_counted(client: FlaskClient, runtime: Runtime) -> None:
    post(client, body(alert("NobodyCares")))
    drain(runtime)
    assert incidents(client) == []
    assert runtime.redis.llen(runtime.keys.unmatched) == 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "responder_alerts_unmatched_total 1.0" in metrics


def test_truncated_alerts_are_counted_for_the_operator(client: FlaskClient, runtime: Runtime) -> None:
    data = json.loads(body(alert("APIQuotaExhaustion")))
    data["truncatedAlerts"] = 7
    assert post(client, json.dumps(data).encode()).status_code == 200
    assert "responder_alerts_truncated_total 7.0" in client.get("/metrics").get_data(as_text=True)


def test_ready_names_what_each_channel_lacks(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    response = client.get("/ready")
    assert response.status_code == 200
    channels = response.get_json()["detail"]["channels"]
    assert channels["slack"] == "SLACK_BOT_TOKEN is not set"
    assert channels["slack_interactions"] == "SLACK_SIGNING_SECRET is not set"
