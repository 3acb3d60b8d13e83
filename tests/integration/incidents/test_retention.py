"""What Redis keeps stays bounded: the unmatched list in bytes, open incidents by a retention sweep.

Real Redis, real workers in this process, the moving clock for the week that passes.
"""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from responder.incidents import intake
from responder.runtime import Runtime
from responder.store import flags
from responder.store import incidents as store
from responder.store.records import Alert
from responder.webhook.app import create_app
from responder.worker import build_worker
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, body, drain, events, incident_of, levels, open_incident

WEEK = 7 * 86400


def unmatched(runtime: Runtime) -> list[bytes]:
    return list(runtime.redis.lrange(runtime.keys.unmatched, 0, -1))


def test_unmatched_alerts_are_kept_within_a_byte_budget_newest_first(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESPONDER_MAX_UNMATCHED_BYTES", "200000")
    client = create_app(runtime).test_client()
    big = {f"label{i:02d}": "x" * 4000 for i in range(12)}  # ~48 KB of labels: under every webhook cap
    alerts = [alert(f"NoRule{n}", fingerprint=f"fp{n:014d}", **big) for n in range(20)]
    assert client.post("/webhook/alertmanager", data=body(*alerts)).status_code == 200

    drain(runtime)

    kept = unmatched(runtime)
    assert sum(map(len, kept)) <= 200_000
    assert [json.loads(e)["fingerprint"] for e in kept] == [f"fp{n:014d}" for n in (19, 18, 17, 16)]
    assert int(runtime.redis.get(runtime.keys.unmatched_bytes) or 0) == sum(map(len, kept))
    assert int(runtime.redis.get(runtime.keys.counter("alerts_unmatched")) or 0) == 20  # all counted
    assert 0 < runtime.redis.ttl(runtime.keys.unmatched) <= WEEK


def test_a_9_mib_label_does_not_stay_in_the_unmatched_list(runtime: Runtime) -> None:
    # The webhook caps labels now; the list must be bounded whatever reaches it all the same.
    huge = Alert.from_webhook(
        {"labels": {"alertname": "Huge", "blob": "x" * (9 * 1024 * 1024)}, "fingerprint": "fphuge"}
    )
    small = Alert.from_webhook({"labels": {"alertname": "Small"}, "fingerprint": "fpsmall"})

    assert intake.handle_alert(runtime, huge, "{}:{}") is False
    assert intake.handle_alert(runtime, small, "{}:{}") is False

    assert [json.loads(e)["fingerprint"] for e in unmatched(runtime)] == ["fpsmall"]
    assert sum(map(len, unmatched(runtime))) < intake.UNMATCHED_BYTES


def maintenance(runtime: Runtime) -> None:
    """One round of a real worker's maintenance, as it runs every few seconds."""
    build_worker(runtime.redis, runtime.keys).run_maintenance_tasks()


def test_an_open_incident_idle_for_a_week_is_closed_without_on_resolved_and_people_are_told(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    stale, _ = open_incident(paged_client, runtime)  # pages level 1, 2, 3 over 4 minutes
    automated, _ = open_incident(
        paged_client, runtime, "APIQuotaExhaustion"
    )  # on_resolved: resume_non_critical
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}
    advance(runtime, WEEK - 86400)
    fresh, _ = open_incident(paged_client, runtime, "Templated", label="x")
    advance(runtime, 86400 + 1)

    maintenance(runtime)
    advance(runtime, 0)  # the paging updates the sweep queued

    for incident_id in (stale, automated):
        incident = incident_of(runtime, incident_id)
        assert (incident["status"], incident["resolved_by"]) == ("resolved", "retention")
        [expired] = events(runtime, incident_id, "incident.expired")
        assert expired["message"] == (
            "closed by retention: nothing happened to this open incident for 7d; on_resolved not run"
        )
        assert store.open_id(runtime.redis, runtime.keys, incident["key"]) is None
    assert incident_of(runtime, fresh)["status"] == "triggered"  # six days old: kept
    # on_resolved did not run: non-critical processing stays paused, as the playbook left it.
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}
    assert [e for e in events(runtime, automated, "playbook.started") if "resolved" in e["message"]] == []
    # The people paged see it closed: Slack's card edited, PagerDuty resolved.
    assert paging.pagerduty.alerts[(SECRETS.pd_key_dev, stale)] == "resolved"
    [card] = [c for c in paging.slack.cards("#embedding-dev") if stale in json.dumps(c.blocks)]
    assert "resolved" in card.text.lower()


def test_an_alert_still_firing_after_the_sweep_opens_a_fresh_incident_at_its_next_re_send(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    stale, _ = open_incident(paged_client, runtime)
    advance(runtime, WEEK + 1)
    maintenance(runtime)
    advance(runtime, 0)

    # Alertmanager re-sends the alert, unchanged, at its repeat_interval: before the sweep a duplicate.
    again = paged_client.post("/webhook/alertmanager", data=body(alert("Paged")))
    advance(runtime, 0)

    assert again.get_json() == {"accepted": 1, "duplicates": 0}
    fresh = store.open_id(runtime.redis, runtime.keys, incident_of(runtime, stale)["key"])
    assert fresh is not None and fresh != stale
    assert [level for level, _ in levels(runtime, fresh)] == [1]  # paged again


def test_the_sweep_follows_responder_open_retention(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESPONDER_OPEN_RETENTION", "2h")
    client = create_app(runtime).test_client()
    incident_id, _ = open_incident(client, runtime, "Templated", label="x")
    advance(runtime, 7199)
    maintenance(runtime)
    assert incident_of(runtime, incident_id)["status"] == "triggered"

    runtime.redis.delete(runtime.keys.retention_lock)  # the next hourly round
    advance(runtime, 2)
    maintenance(runtime)

    assert incident_of(runtime, incident_id)["status"] == "resolved"
    [expired] = events(runtime, incident_id, "incident.expired")
    assert "for 2h" in expired["message"]
