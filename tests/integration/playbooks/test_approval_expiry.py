"""A step's wait for approval ends: after an hour, or when its incident resolves.

Real web app, real worker in this process, the fake Slack, the moving clock: the hour is
passed with ``advance`` and the expiry is the scheduled job RQ would run at its time.
Whoever approves late is refused, Slack clickers and API-token holders alike, and the
refusal is recorded.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags, runs
from responder.store import incidents as store
from responder.store.records import RunStatus
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import ALICE, Paging
from tests.fakes.slack import click_body, sign
from tests.helpers import advance, events, open_incident


@pytest.fixture
def waiting(paging: Paging, runtime: Runtime, paged_client: FlaskClient) -> tuple[str, str]:
    """An incident whose approve_then_flag run waits for approval of its step; (incident id, run id)."""
    incident_id, _ = open_incident(paged_client, runtime, "NeedsApproval")
    advance(runtime, 1)
    [wait] = events(runtime, incident_id, "step.awaiting_approval")
    return incident_id, str(wait["details"]["run"])


def status(runtime: Runtime, run_id: str) -> RunStatus:
    run = runs.load(runtime.redis, runtime.keys, run_id)
    assert run is not None
    return run.status


def slack_approve(client: FlaskClient, paging: Paging, run_id: str) -> None:
    data = click_body("approve", f"{run_id}:0", response_url=paging.slack.response_url())
    assert (
        client.post("/slack/interactions", data=data, headers=sign(data, SECRETS.signing_secret)).status_code
        == 200
    )


def api_approve(client: FlaskClient, run_id: str) -> Any:
    return client.post(f"/api/runs/{run_id}/approve", json={"by": "carol", "step": 0})


def told_in_slack(paging: Paging) -> list[str]:
    return [str(r.body["text"]) for r in paging.slack.responses()]


def test_an_approval_within_the_hour_runs_the_step_and_nothing_expires(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, waiting: tuple[str, str]
) -> None:
    incident_id, run_id = waiting
    advance(runtime, 3598)

    slack_approve(paged_client, paging, run_id)
    advance(runtime, 3600)  # past when the wait would have expired

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 7
    assert status(runtime, run_id) == RunStatus.COMPLETED
    assert events(runtime, incident_id, "approval.expired") == []


def test_a_step_not_approved_within_an_hour_ends_its_run_and_late_approvals_are_refused(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, waiting: tuple[str, str]
) -> None:
    incident_id, run_id = waiting
    advance(runtime, 3590)
    assert status(runtime, run_id) == RunStatus.AWAITING_APPROVAL

    advance(runtime, 11)

    assert status(runtime, run_id) == RunStatus.CANCELLED  # not awaiting_approval for the run's 30 days
    [expired] = events(runtime, incident_id, "approval.expired")
    assert expired["message"].startswith(
        "approve_then_flag step 1 was not approved within 1h: the approval expired at "
    )
    assert expired["message"].endswith("; the run ended")
    assert expired["details"] == {"run": run_id, "step": 0}
    thread = [m.text for m in paging.slack.messages.values() if m.thread_ts is not None]
    assert any("was not approved within 1h" in text for text in thread)

    slack_approve(paged_client, paging, run_id)
    advance(runtime, 0)
    response = api_approve(paged_client, run_id)

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3  # never ran
    assert response.status_code == 409
    assert response.get_json()["error"].startswith("approve_then_flag step 1 was not approved within 1h")
    [by_slack, by_api] = events(runtime, incident_id, "approval.refused")
    assert by_slack["message"].startswith("approval of approve_then_flag step 1 by alice.oncall refused: ")
    assert by_slack["details"]["slack_user_id"] == ALICE
    assert by_api["details"]["by"] == "carol"
    [answer] = told_in_slack(paging)
    assert answer.startswith("Not approved: approve_then_flag step 1 was not approved within 1h")
    assert len(events(runtime, incident_id, "approval.expired")) == 1


def test_an_approval_after_the_incident_resolved_is_refused_and_ends_the_waiting_run(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, waiting: tuple[str, str]
) -> None:
    incident_id, run_id = waiting
    assert paged_client.post(f"/api/incidents/{incident_id}/resolve", json={"by": "carol"}).status_code == 200
    advance(runtime, 0)

    slack_approve(paged_client, paging, run_id)
    advance(runtime, 0)

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
    assert status(runtime, run_id) == RunStatus.CANCELLED
    why = f"approve_then_flag step 1 cannot be approved: incident {incident_id} is resolved; the run ended"
    [refused] = events(runtime, incident_id, "approval.refused")
    assert refused["message"] == f"approval of approve_then_flag step 1 by alice.oncall refused: {why}"
    assert told_in_slack(paging) == [f"Not approved: {why}"]

    response = api_approve(paged_client, run_id)  # an API-token holder is refused too

    assert response.status_code == 409
    assert response.get_json() == {
        "error": f"approve_then_flag step 1 cannot be approved: incident {incident_id} is resolved"
    }
    advance(runtime, 3600)  # the expiry job finds nothing left to end
    assert events(runtime, incident_id, "approval.expired") == []


def test_an_approval_for_an_incident_retention_removed_is_refused_and_leaves_no_timeline_behind(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, waiting: tuple[str, str]
) -> None:
    incident_id, run_id = waiting
    paged_client.post(f"/api/incidents/{incident_id}/resolve", json={"by": "carol"})
    advance(runtime, 0)
    assert store.sweep(runtime.redis, runtime.keys, runtime.clock() + 31 * 86400) == 1

    slack_approve(paged_client, paging, run_id)
    advance(runtime, 0)
    response = api_approve(paged_client, run_id)

    assert told_in_slack(paging) == [
        "unknown playbook run: it may have aged out of retention, with its incident"
    ]
    assert response.status_code == 409
    assert not runtime.redis.exists(runtime.keys.timeline(incident_id))
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
