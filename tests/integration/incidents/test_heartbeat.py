"""The dead man's switch: no Watchdog for ``missing_after`` opens "alerting pipeline silent" and pages;
the Watchdog's return resolves it. On a clock the test moves, with the real web app and RQ jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from responder.incidents import heartbeat
from responder.runtime import Runtime
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, body, incidents_of

HEARTBEAT = """
heartbeat:
  matchers: ['alertname = "Watchdog"']
  missing_after: 5m
  policy: default
  notify: [slack, email, pagerduty]
"""
MINUTE = 60.0


@pytest.fixture
def with_heartbeat(paging: Paging, config_dir: Path) -> Paging:
    with (config_dir / "responder.yaml").open("a") as f:
        f.write(HEARTBEAT)
    return paging


def watchdog(client: FlaskClient) -> None:
    """Alertmanager sending the Watchdog again (the same alert each time: a duplicate for the dedupe)."""
    sent = client.post("/webhook/alertmanager", data=body(alert("Watchdog", fingerprint="fp-watchdog")))
    assert sent.status_code == 200


def test_silence_opens_an_incident_that_pages_and_the_heartbeat_returning_resolves_it(
    with_heartbeat: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    assert heartbeat.ensure_check(runtime)  # what a worker's maintenance does when it starts
    for _ in range(3):  # every 4 minutes, inside the 5: all quiet (re-sends count, duplicates or not)
        watchdog(paged_client)
        advance(runtime, 4 * MINUTE)
    assert incidents_of(runtime) == []
    assert with_heartbeat.reached("dev-team") == {"slack": 0, "email": 0, "pagerduty": 0}

    advance(runtime, 2 * MINUTE)  # 6 minutes since the last one
    [incident] = incidents_of(runtime)
    assert (incident["rule"], incident["title"], incident["status"]) == (
        "heartbeat",
        "alerting pipeline silent",
        "triggered",
    )
    assert 'no heartbeat alert (alertname = "Watchdog")' in incident["summary"]
    assert with_heartbeat.reached("dev-team") == {"slack": 1, "email": 1, "pagerduty": 1}
    advance(runtime, 5 * MINUTE)  # still silent: its escalation goes on, and nothing opens twice
    assert len(incidents_of(runtime)) == 1
    assert len(with_heartbeat.pd_events(SECRETS.pd_key_ops)) == 1  # level 2, after missing_after

    watchdog(paged_client)
    advance(runtime, heartbeat.WHILE_SILENT)
    [resolved] = incidents_of(runtime)
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "heartbeat")
    assert len(with_heartbeat.pd_events(SECRETS.pd_key_dev, "resolve")) == 1


def test_silence_is_counted_from_the_first_start_when_no_heartbeat_ever_came(
    with_heartbeat: Paging, runtime: Runtime
) -> None:
    heartbeat.ensure_check(runtime)
    advance(runtime, 4 * MINUTE)
    assert incidents_of(runtime) == []
    advance(runtime, 2 * MINUTE)
    assert [i["title"] for i in incidents_of(runtime)] == ["alerting pipeline silent"]


def test_several_workers_checking_at_once_raise_one_incident(
    with_heartbeat: Paging, runtime: Runtime
) -> None:
    heartbeat.silent_since(runtime.redis, runtime.keys, runtime.clock())  # the count starts
    runtime.clock.offset += 10 * MINUTE  # type: ignore[attr-defined]

    outcomes = [heartbeat.check(runtime), heartbeat.check(runtime)]

    assert outcomes[0].startswith("opened ") and outcomes[1] == "still silent"
    assert len(incidents_of(runtime)) == 1


def test_the_heartbeat_is_not_an_unmatched_alert(
    with_heartbeat: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    watchdog(paged_client)
    advance(runtime, 0)
    assert runtime.redis.llen(runtime.keys.unmatched) == 0
    assert float(runtime.redis.get(runtime.keys.heartbeat_last) or 0) > 0
