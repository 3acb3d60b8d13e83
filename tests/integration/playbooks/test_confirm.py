"""``automation: confirm``: the run waits for a Run click before its first step.

The Run button is the one on the incident card the fake Slack received; clicks are signed
as Slack signs them and come from alice (allowed by the paging config's
``access.slack.approve``) or bob (not allowed). The confirmation goes through the same
approval machinery as a ``requires_approval`` step: its 1h expiry, its refusal after the
incident resolved. The CLI and the dashboard confirm through the same code (test_cli.py,
test_forms.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.fakes.slack import click_body, sign
from tests.helpers import advance, events, open_incident

RULE = """
- name: confirmed
  matchers: ['alertname = "Confirm"']
  severity: critical
  playbooks: [confirm_fix]
  automation: confirm
  on_resolved: [confirm_undo]
  notify: [slack, email, pagerduty]
  escalation: {after: 2h}
  group_by: [alertname]
"""
FIX = "name: confirm_fix\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 8}\n"
UNDO = "name: confirm_undo\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 3}\n"


@pytest.fixture
def confirming(paging: Paging, config_dir: Path) -> Paging:
    """The paging config plus rule ``confirmed`` (request it before ``runtime``)."""
    (config_dir / "rules" / "30-confirm.yaml").write_text(RULE)
    (config_dir / "playbooks" / "confirm_fix.yaml").write_text(FIX)
    (config_dir / "playbooks" / "confirm_undo.yaml").write_text(UNDO)
    return paging


def run_button(paging: Paging) -> str:
    """The value of the Run button on the incident card in #embedding-dev."""
    [card] = paging.slack.cards("#embedding-dev")
    values = [
        element["value"]
        for block in card.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == "run"
    ]
    [value] = values
    return str(value)


def click_run(client: FlaskClient, paging: Paging, value: str, **who: Any) -> None:
    data = click_body("run", value, response_url=paging.slack.response_url(), **who)
    response = client.post("/slack/interactions", data=data, headers=sign(data, SECRETS.signing_secret))
    assert response.status_code == 200, response.get_json()


def retry_attempts(runtime: Runtime) -> Any:
    return flags.get(runtime.redis, runtime.keys, "retryAttempts")


def test_no_step_runs_until_an_allowed_user_clicks_run_in_slack(
    confirming: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "Confirm")
    advance(runtime, 60)

    assert retry_attempts(runtime) == 3  # not yet
    [waiting] = events(runtime, incident_id, "playbook.awaiting_confirmation")
    run_id = waiting["details"]["run"]
    assert waiting["message"] == (
        f"playbook confirm_fix (run {run_id}) waits for a Run click before its first step: the Run button "
        f"in Slack or on the dashboard, or `responder approve {run_id}`; it expires after 1h"
    )
    assert run_button(confirming) == run_id
    [email] = confirming.emails_to("dev-team@example.com")
    assert f"`responder approve {run_id}`" in email.message.get_body(("plain",)).get_content()

    click_run(paged_client, confirming, run_id, user_id="U0BOB", user="bob")
    advance(runtime, 0)
    assert retry_attempts(runtime) == 3
    [refused] = events(runtime, incident_id, "access.refused")
    assert refused["message"] == (
        "Slack user bob (U0BOB) may not start a playbook run for: U0BOB is not in access.slack.approve"
    )

    click_run(paged_client, confirming, run_id)
    click_run(paged_client, confirming, run_id)  # a double click
    advance(runtime, 0)

    assert retry_attempts(runtime) == 8
    [confirmed] = events(runtime, incident_id, "run.confirmed")
    assert (
        confirmed["message"] == f"playbook confirm_fix (run {run_id}) confirmed by alice.oncall: it runs now"
    )
    assert confirmed["details"]["slack_user_id"] == "U0ALICE"
    assert len(events(runtime, incident_id, "step.ok")) == 1


def test_a_confirmation_expires_after_an_hour_and_a_late_click_is_refused(
    confirming: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "Confirm")
    run_id = run_button(confirming)

    advance(runtime, 3601)  # due at the whole second after the hour

    [expired] = events(runtime, incident_id, "approval.expired")
    assert expired["message"].startswith(
        f"playbook confirm_fix (run {run_id}) was not confirmed within 1h: the confirmation expired at "
    )
    assert expired["message"].endswith("; the run ended")

    click_run(paged_client, confirming, run_id)
    advance(runtime, 0)

    assert retry_attempts(runtime) == 3
    [refused] = events(runtime, incident_id, "approval.refused")
    assert refused["message"].startswith(
        "approval of confirm_fix run by alice.oncall refused: playbook confirm_fix"
    )
    [answer] = confirming.slack.responses()
    assert answer.body["text"].startswith("Not approved: playbook confirm_fix")


def test_a_click_after_the_incident_resolved_is_refused_and_nothing_is_undone(
    confirming: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "Confirm")
    run_id = run_button(confirming)
    flags.set_value(
        runtime.redis, runtime.keys, "retryAttempts", 6, flags.FlagChange("test", runtime.clock())
    )

    paged_client.post(f"/api/incidents/{incident_id}/resolve", json={"by": "carol"})
    advance(runtime, 0)
    click_run(paged_client, confirming, run_id)
    advance(runtime, 0)

    assert retry_attempts(runtime) == 6  # neither confirm_fix nor, with nothing confirmed, confirm_undo
    [refused] = events(runtime, incident_id, "approval.refused")
    assert refused["message"] == (
        f"approval of confirm_fix run by alice.oncall refused: playbook confirm_fix (run {run_id}) cannot be "
        f"confirmed: incident {incident_id} is resolved; the run ended"
    )
    [held] = events(runtime, incident_id, "playbook.not_confirmed")
    assert held["message"] == (
        "on_resolved playbooks not run: no run of the rule's playbooks was confirmed, so there is nothing "
        "to undo (confirm_undo)"
    )


def test_the_api_confirms_a_run_and_says_so(
    confirming: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "Confirm")
    run_id = run_button(confirming)

    response = paged_client.post(f"/api/runs/{run_id}/approve", json={"by": "dave"})
    advance(runtime, 0)

    assert response.get_json() == {
        "changed": True,
        "run": run_id,
        "step": 0,
        "status": "running",
        "playbook": "confirm_fix",
        "confirmation": True,
    }
    assert retry_attempts(runtime) == 8
    assert events(runtime, incident_id, "run.confirmed")[0]["details"]["by"] == "dave"
