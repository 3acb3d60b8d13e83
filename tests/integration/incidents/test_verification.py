"""Closing the loop against the real Alertmanager: verify, else, escalate; page: on_failure.

Each test posts its alert to the real Alertmanager (``POST /api/v2/alerts``, as Prometheus
does) so Alertmanager holds it firing, and posts the same alert, with the fingerprint
Alertmanager gave it, to the responder's webhook itself (faster than waiting for
Alertmanager's group_wait to deliver it). Resolving is the same: Alertmanager first, then
the webhook when the test says the resolution arrived. Pages go to the Slack, PagerDuty
and SMTP fakes; the clock is the runtime's moving clock, so ``after`` passes at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags, guards
from responder.store import incidents as store
from tests.alertmanager import RealAlertmanager
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, events, incident_of, incidents_of, levels, payload, timeline_of

AFTER = 120.0
ESCALATION = 600.0

RULES = """
- name: verified
  matchers: ['alertname = "Verified"']
  severity: critical
  playbooks: [first_fix]
  verify: {after: 2m, else: [second_fix]}
  notify: [slack, email, pagerduty]
  escalation: {after: 10m}
  group_by: [alertname]
- name: quiet
  matchers: ['alertname = "Quiet"']
  severity: critical
  playbooks: [first_fix]
  verify: {after: 2m, else: [second_fix], page: on_failure}
  notify: [slack, email, pagerduty]
  escalation: {after: 10m}
  group_by: [alertname]
- name: quiet_flaky
  matchers: ['alertname = "QuietFlaky"']
  severity: critical
  playbooks: [always_fails]
  verify: {after: 2m, page: on_failure}
  notify: [slack, email, pagerduty]
  escalation: {after: 10m}
  group_by: [alertname]
"""
FIRST_FIX = "name: first_fix\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 5}\n"
SECOND_FIX = (
    "name: second_fix\nsteps:\n"
    "  - action: flags.set\n    with: {flag: nonCriticalProcessing, merge: {enabled: false}}\n"
)


@pytest.fixture
def verified(paging: Paging, config_dir: Path) -> Paging:
    """The paging config plus rules that verify (request it before ``runtime``)."""
    (config_dir / "rules" / "30-verified.yaml").write_text(RULES)
    (config_dir / "playbooks" / "first_fix.yaml").write_text(FIRST_FIX)
    (config_dir / "playbooks" / "second_fix.yaml").write_text(SECOND_FIX)
    return paging


def post(client: FlaskClient, *alerts: dict[str, Any]) -> None:
    response = client.post("/webhook/alertmanager", data=json.dumps(payload(*alerts)))
    assert response.status_code == 200, response.get_json()


def open_verified(
    client: FlaskClient, runtime: Runtime, am: RealAlertmanager, name: str
) -> tuple[str, float]:
    """Fire ``name`` in Alertmanager and at the responder; run what the open starts."""
    post(client, am.fire(name))
    advance(runtime, 0)
    [incident] = [i for i in incidents_of(runtime) if i["title"] == name]
    [opened] = [
        e.at
        for e in store.timeline(runtime.redis, runtime.keys, incident["id"])
        if e.kind == "incident.opened"
    ]
    return str(incident["id"]), opened


def kinds(runtime: Runtime, incident_id: str) -> list[str]:
    return [
        e["kind"] for e in timeline_of(runtime, incident_id) if e["kind"].startswith(("verify.", "playbook."))
    ]


def second_fix_ran(runtime: Runtime) -> bool:
    return flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}


def report_rule(client: FlaskClient, rule: str) -> dict[str, Any]:
    report = client.get("/api/report?since=1d").get_json()
    [entry] = [r for r in report["rules"] if r["name"] == rule]
    return dict(entry)


def nothing_sent(paging: Paging) -> bool:
    return not paging.slack.requests and not paging.pagerduty.requests and not paging.smtp.received


def test_an_alert_resolved_before_the_check_is_verified_and_no_else_runs(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Verified")
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 5  # first_fix ran
    [waiting] = events(runtime, incident_id, "verify.waiting")
    assert waiting["message"] == (
        "first_fix completed; asking Alertmanager in 2m whether the incident's alerts still fire"
    )

    alertmanager.resolve("Verified")  # fixed: Alertmanager no longer holds it; the webhook is not here yet
    advance(runtime, AFTER)

    [ok] = events(runtime, incident_id, "verify.ok")
    assert (
        ok["message"] == "verified: Alertmanager no longer has Verified firing 2m after first_fix completed"
    )
    assert not second_fix_ran(runtime)
    assert kinds(runtime, incident_id) == [
        "playbook.started",
        "playbook.completed",
        "verify.waiting",
        "verify.ok",
    ]
    # page: always: level 1 was paged at open, and the thread hears that it is fixed.
    assert levels(runtime, incident_id) == [(1, opened)]
    [card] = verified.slack.cards("#embedding-dev")
    assert [r.text for r in card.replies][-1].startswith(
        "verified: Alertmanager no longer has Verified firing"
    )

    post(paged_client, alertmanager.webhook_alert("Verified", "resolved"))
    advance(runtime, 0)
    assert incident_of(runtime, incident_id)["auto_remediated"] is True
    counts = report_rule(paged_client, "verified")
    assert counts["verification"] == {"ok": 1, "failed": 0, "unknown": 0, "success_rate": 1.0}


def test_a_webhook_resolution_before_the_check_counts_as_fixed(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, _ = open_verified(paged_client, runtime, alertmanager, "Verified")
    post(paged_client, alertmanager.resolve("Verified"))
    advance(runtime, 0)

    [ok] = events(runtime, incident_id, "verify.ok")
    assert ok["message"] == (
        "verified: Alertmanager resolved the incident's alerts after first_fix completed, before the check"
    )
    advance(runtime, AFTER)  # the check finds the incident resolved and does nothing
    assert len(events(runtime, incident_id, "verify.ok")) == 1
    assert incident_of(runtime, incident_id)["auto_remediated"] is True
    assert report_rule(paged_client, "verified")["verification"]["ok"] == 1


def test_an_alert_still_firing_runs_else_then_pages_the_next_level_at_once(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Verified")

    advance(runtime, AFTER)

    [failed] = events(runtime, incident_id, "verify.failed")
    assert (
        failed["message"] == "not fixed: Alertmanager still has Verified firing 2m after first_fix completed"
    )
    assert failed["details"]["still_firing"] == [alertmanager.fingerprints["Verified"]]
    assert second_fix_ran(runtime)
    assert levels(runtime, incident_id) == [(1, opened)]  # not yet: one more check after second_fix

    advance(runtime, AFTER)

    second = events(runtime, incident_id, "verify.failed")[1]
    assert (
        second["message"] == "not fixed: Alertmanager still has Verified firing 2m after second_fix completed"
    )
    # Level 2 now, 4 minutes in, not at its 10-minute timer; saying what automation tried.
    assert levels(runtime, incident_id) == [(1, opened), (2, opened + 2 * AFTER)]
    [level2] = [e for e in events(runtime, incident_id, "escalation.level") if e["details"]["level"] == 2]
    reason = "automation did not clear it: the alerts still fire; tried first_fix, then second_fix"
    assert level2["message"] == f"level 2: paged dev-team, ops-team via slack, email, pagerduty ({reason})"
    [ops_page] = verified.pd_events(SECRETS.pd_key_ops)
    assert ops_page.body["payload"]["custom_details"]["reason"] == reason
    assert verified.reached("ops-team") == {"slack": 1, "email": 1, "pagerduty": 1}
    counts = report_rule(paged_client, "verified")
    assert counts["verification"] == {"ok": 0, "failed": 2, "unknown": 0, "success_rate": 0.0}
    assert counts["runs"] == {"started": 2, "completed": 2, "failed": 0}


def test_alertmanager_unreachable_is_unknown_treated_as_failed_and_escalates(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Verified")
    alertmanager.stop()

    advance(runtime, AFTER)
    advance(runtime, AFTER)

    unknown = events(runtime, incident_id, "verify.unknown")
    assert len(unknown) == 2
    assert unknown[0]["message"] == (
        f"could not verify 2m after first_fix completed: GET {alertmanager.url}/api/v2/alerts failed: "
        "ConnectionError; treated as still firing"
    )
    assert second_fix_ran(runtime)  # fail safe: as if it still fired
    assert levels(runtime, incident_id) == [(1, opened), (2, opened + 2 * AFTER)]
    [level2] = [e for e in events(runtime, incident_id, "escalation.level") if e["details"]["level"] == 2]
    assert "automation could not be verified (Alertmanager did not answer)" in level2["message"]
    assert report_rule(paged_client, "verified")["verification"]["unknown"] == 2


def test_page_on_failure_with_a_quickly_resolved_alert_pages_nobody(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, _ = open_verified(paged_client, runtime, alertmanager, "Quiet")
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 5
    [held] = events(runtime, incident_id, "escalation.held")
    assert "people are paged only if first_fix does not clear the alerts" in held["message"]

    alertmanager.resolve("Quiet")
    advance(runtime, AFTER)  # verified fixed; Alertmanager's resolution reaches the webhook a bit later
    assert len(events(runtime, incident_id, "verify.ok")) == 1
    advance(runtime, AFTER)  # still fixed: asked again, quietly, until the webhook resolves it
    post(paged_client, alertmanager.webhook_alert("Quiet", "resolved"))
    advance(runtime, 3 * ESCALATION)

    incident = incident_of(runtime, incident_id)
    assert (incident["status"], incident["auto_remediated"]) == ("resolved", True)
    assert levels(runtime, incident_id) == []
    assert nothing_sent(verified)  # no Slack call, no PagerDuty event, no email, at any time
    assert len(events(runtime, incident_id, "verify.ok")) == 1


def test_page_on_failure_pages_level_1_with_what_was_tried_then_follows_the_policys_timers(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Quiet")

    advance(runtime, AFTER)
    assert second_fix_ran(runtime)
    assert nothing_sent(verified)  # the loop is still running
    advance(runtime, AFTER)

    failed_at = opened + 2 * AFTER
    assert levels(runtime, incident_id) == [(1, failed_at)]
    [level1] = events(runtime, incident_id, "escalation.level")
    assert level1["message"] == (
        "level 1: paged dev-team via slack, email, pagerduty (automation did not clear it: the alerts still "
        "fire; tried first_fix, then second_fix)"
    )
    assert verified.reached("dev-team") == {"slack": 1, "email": 1, "pagerduty": 1}

    advance(runtime, 2 * ESCALATION)
    assert levels(runtime, incident_id) == [
        (1, failed_at),
        (2, failed_at + ESCALATION),
        (3, failed_at + 2 * ESCALATION),
    ]


def test_page_on_failure_pages_at_once_when_nothing_runs_to_be_verified(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    paged_client.post("/api/automation/pause")
    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Quiet")

    assert levels(runtime, incident_id) == [(1, opened)]
    [held] = events(runtime, incident_id, "playbook.paused")
    assert held["message"] == "playbooks not run: automation is paused (first_fix)"
    assert events(runtime, incident_id, "verify.waiting") == []


def test_page_on_failure_a_failed_step_pages_level_1_and_ends_the_loop(
    verified: Paging,
    runtime: Runtime,
    paged_client: FlaskClient,
    alertmanager: RealAlertmanager,
    httpserver: Any,
) -> None:
    httpserver.expect_request("/fail", method="POST").respond_with_data("down", status=500)
    post(paged_client, alertmanager.fire("QuietFlaky", port=str(httpserver.port)))
    advance(runtime, 30)  # the step's retries
    [incident] = incidents_of(runtime)

    [level1] = events(runtime, incident["id"], "escalation.level")
    assert level1["details"]["level"] == 1
    assert "always_fails step 1/2 (http.request) failed after 3 attempts" in level1["message"]
    [cancelled] = events(runtime, incident["id"], "verify.cancelled")
    assert cancelled["message"].startswith("no verification: always_fails step 1/2 (http.request) failed")
    assert len(levels(runtime, incident["id"])) == 1  # paged once, by the failure, not again by the loop
    advance(runtime, ESCALATION)
    assert [level for level, _ in levels(runtime, incident["id"])] == [1, 2]


def test_page_on_failure_a_run_skipped_because_the_playbook_already_runs_pages_level_1_at_once(
    verified: Paging, runtime: Runtime, paged_client: FlaskClient, alertmanager: RealAlertmanager
) -> None:
    # Another run of first_fix holds its target (the same flag) right now.
    target = guards.playbook_target([("flags.set", {"flag": "retryAttempts", "value": 5})])
    runtime.redis.set(runtime.keys.playbook_lock("first_fix", target), "0123456789abcdef", ex=600)

    incident_id, opened = open_verified(paged_client, runtime, alertmanager, "Quiet")

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3  # nothing was tried
    [cancelled] = events(runtime, incident_id, "verify.cancelled")
    assert cancelled["message"] == (
        "no verification: playbook first_fix not run: already running (run 0123456789abcdef); "
        "nothing more is checked"
    )
    assert levels(runtime, incident_id) == [(1, opened)]
    [level1] = events(runtime, incident_id, "escalation.level")
    assert (
        "automation did not run to completion (playbook first_fix not run: already running"
        in (level1["message"])
    )
    advance(runtime, AFTER)
    assert events(runtime, incident_id, "verify.ok") + events(runtime, incident_id, "verify.failed") == []
