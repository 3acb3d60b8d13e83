"""Honest paging: a level that reached nobody says so, with each channel's reason, and the next
level is paged at once; ``/ready`` names a team no channel can reach.

Here Slack has no token, email no SMTP server, and dev-team no PagerDuty routing key: only
ops-team's PagerDuty service (the fake) can be reached.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, events, open_incident

AFTER = 120.0


@pytest.fixture
def only_ops_pagerduty(paging: Paging, monkeypatch: pytest.MonkeyPatch) -> Paging:
    """Paging with every channel gone but ops-team's PagerDuty (ask for it before runtime)."""
    for name in ("SLACK_BOT_TOKEN", "SMTP_HOST", "PD_ROUTING_KEY_DEV"):
        monkeypatch.delenv(name)
    return paging


def test_a_level_that_reached_nobody_is_recorded_with_each_reason_and_the_next_is_paged_at_once(
    only_ops_pagerduty: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)

    [unreached] = events(runtime, incident_id, "escalation.unreached")
    assert unreached["message"] == (
        "level 1: reached nobody of dev-team (incident opened): slack: SLACK_BOT_TOKEN is not set; email:"
        " SMTP_HOST is not set; pagerduty: team dev-team has no pagerduty address; paging level 2 at once"
    )
    assert {(d["channel"], d["status"]) for d in unreached["details"]["deliveries"]} == {
        ("slack", "skipped"),
        ("email", "skipped"),
        ("pagerduty", "skipped"),
    }
    # Level 2 at the same moment, not two minutes later: ops-team's PagerDuty is paged.
    [level_2] = events(runtime, incident_id, "escalation.level")
    assert level_2["message"].startswith(
        "level 2: paged dev-team, ops-team via slack, email, pagerduty (level 1 reached nobody)"
    )
    assert level_2["at"] == unreached["at"]
    assert [e.body["dedup_key"] for e in only_ops_pagerduty.pd_events(SECRETS.pd_key_ops)] == [incident_id]

    # Level 2's own timer, when it comes due, pages nobody twice; level 3 comes on its time.
    advance(runtime, AFTER)
    assert len(only_ops_pagerduty.pd_events(SECRETS.pd_key_ops)) == 1
    advance(runtime, AFTER)
    assert [e["details"]["level"] for e in events(runtime, incident_id, "escalation.level")] == [2, 3]
    assert len(events(runtime, incident_id, "escalation.unreached")) == 1


@pytest.fixture
def nobody(paging: Paging, monkeypatch: pytest.MonkeyPatch) -> Paging:
    """Paging with no channel able to reach anyone (ask for it before runtime)."""
    for name in ("SLACK_BOT_TOKEN", "SMTP_HOST", "PD_ROUTING_KEY_DEV", "PD_ROUTING_KEY_OPS"):
        monkeypatch.delenv(name)
    return paging


def test_when_the_last_level_reaches_nobody_too_it_is_recorded_and_escalation_rests(
    nobody: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    advance(runtime, 3 * AFTER)  # every timer comes due: each finds its level already tried

    unreached = events(runtime, incident_id, "escalation.unreached")
    assert [e["details"]["level"] for e in unreached] == [1, 2, 3]
    assert len({e["at"] for e in unreached}) == 1  # all at the open, one after the other
    assert [e["message"].rsplit("; ", 1)[1] for e in unreached] == [
        "paging level 2 at once",
        "paging level 3 at once",
        "no level left to page",
    ]
    assert "(level 2 reached nobody): slack: SLACK_BOT_TOKEN is not set" in unreached[2]["message"]
    assert events(runtime, incident_id, "escalation.level") == []
    assert nobody.pagerduty.requests == [] and nobody.slack.requests == []


def test_ready_names_each_team_no_channel_reaches_and_pagerduty_without_routing_keys(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SMTP_HOST", "EMAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    detail = create_app(runtime).test_client().get("/ready").get_json()["detail"]

    assert (
        detail["channels"]["pagerduty"]
        == "no team has a routing key (teams.<name>.pagerduty is empty or unset)"
    )
    assert detail["unreachable_teams"] == {
        team: (
            "slack: SLACK_BOT_TOKEN is not set; email: SMTP_HOST and EMAIL_FROM are not set;"
            f" pagerduty: team {team} has no pagerduty address"
        )
        for team in ("dev-team", "ops-team")
    }

    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRETS.slack_token)
    assert "unreachable_teams" not in create_app(runtime).test_client().get("/ready").get_json()["detail"]
