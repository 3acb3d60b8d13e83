"""The storm guard through the webhook, real RQ workers and the paging fakes.

A rule limited to N new incidents per window gets N + 10 distinct alerts: N incidents
run their playbooks, the rest make one storm incident that pages once and runs nothing,
and resolves when its members have.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import incidents as store
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, body, drain, events, incidents_of

LIMIT = 5

STORM_RULES = """
- name: workers_down
  matchers: ['alertname = "WorkerDown"']
  severity: high
  playbooks: [pause_non_critical]
  notify: [slack, email, pagerduty]
  escalation: {{after: 1h}}
  group_by: [instance]
  storm: {storm}
"""


def storm_rule(config_dir: Path, storm: str) -> None:
    (config_dir / "rules" / "30-storm.yaml").write_text(STORM_RULES.format(storm=storm))


@pytest.fixture
def guarded(paging: Paging, config_dir: Path) -> Paging:
    """Paging, plus a rule whose storm limit is 5 new incidents per 10 minutes (ask before runtime)."""
    storm_rule(config_dir, f"{{max_incidents: {LIMIT}, per: 10m}}")
    return paging


def worker_down(n: int, status: str = "firing") -> dict[str, object]:
    return alert("WorkerDown", status=status, fingerprint=f"wd{n:010d}", instance=f"worker-{n}")


def post(client: FlaskClient, *alerts: dict[str, object]) -> None:
    response = client.post("/webhook/alertmanager", data=body(*alerts))
    assert response.status_code == 200, response.get_json()


def test_beyond_the_limit_alerts_join_one_storm_incident_that_pages_once_and_resolves_with_them(
    guarded: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    for n in range(LIMIT + 10):
        post(paged_client, worker_down(n))
    drain(runtime)

    incidents = incidents_of(runtime)
    [storm] = [i for i in incidents if i["key"] == "workers_down:storm"]
    ordinary = [i for i in incidents if i is not storm]
    assert len(ordinary) == LIMIT
    assert {i["labels"]["instance"] for i in ordinary} == {f"worker-{n}" for n in range(LIMIT)}
    # Each ordinary incident ran its playbook; the storm ran none.
    for incident in ordinary:
        assert [e["message"] for e in events(runtime, incident["id"], "playbook.completed")] == [
            "playbook pause_non_critical completed"
        ]
    assert events(runtime, storm["id"], "playbook.started") == []
    [held] = events(runtime, storm["id"], "playbook.storm")
    assert held["message"] == (
        "playbooks not run: storm: more than 5 new incidents of rule workers_down within 10m;"
        " its member alerts run no playbooks (pause_non_critical)"
    )
    # Its record counts the members; its timeline says why and names each of them (the first 20).
    assert storm["title"] == "Storm: workers_down" and storm["storm"] == {"members": 10}
    assert paged_client.get(f"/api/incidents/{storm['id']}").get_json()["storm"] == {"members": 10}
    [started] = events(runtime, storm["id"], "storm.started")
    assert started["details"] == {"max_incidents": 5, "per": "10m"}
    members = events(runtime, storm["id"], "storm.member")
    assert [m["details"]["fingerprint"] for m in members] == [f"wd{n:010d}" for n in range(LIMIT, LIMIT + 10)]
    # Pages: one per ordinary incident and one for the storm, not one per member alert.
    triggers = guarded.pd_events(SECRETS.pd_key_dev)
    assert sorted(e.body["dedup_key"] for e in triggers) == sorted(i["id"] for i in incidents)
    cards = guarded.slack.cards("#embedding-dev")
    assert len(cards) == LIMIT + 1
    assert [c.text for c in cards if "Storm" in c.text] == [
        "[HIGH] Storm: workers_down: more than 5 new incidents of rule workers_down within 10m: WorkerDown"
        " and every later new alert of the rule join this incident; no playbook runs for them (triggered)"
    ]

    # Every member but one resolves: the storm stays; the last one resolves it.
    for n in range(LIMIT + 9):
        post(paged_client, worker_down(n, "resolved"))
    drain(runtime)
    assert store.get(runtime.redis, runtime.keys, storm["id"]).status == "triggered"
    assert all(i["status"] == "resolved" for i in incidents_of(runtime) if i["id"] != storm["id"])

    post(paged_client, worker_down(LIMIT + 9, "resolved"))
    drain(runtime)
    resolved = store.get(runtime.redis, runtime.keys, storm["id"])
    assert (resolved.status, resolved.resolved_by) == ("resolved", "alertmanager")
    [closing] = events(runtime, storm["id"], "incident.resolved")
    assert closing["message"] == "resolved: all 10 member alerts resolved"
    assert len(guarded.pd_events(SECRETS.pd_key_dev, "resolve")) == LIMIT + 1


@pytest.fixture
def unguarded(paging: Paging, config_dir: Path) -> Paging:
    """Paging, plus the same rule with `storm: off` (ask before runtime)."""
    storm_rule(config_dir, "off")
    return paging


def test_with_the_guard_off_every_alert_opens_its_own_incident(
    unguarded: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    for n in range(LIMIT + 10):
        post(paged_client, worker_down(n))
    drain(runtime)

    incidents = incidents_of(runtime)
    assert len(incidents) == LIMIT + 10
    assert not any(i["key"].endswith(":storm") for i in incidents)
    assert len(unguarded.pd_events(SECRETS.pd_key_dev)) == LIMIT + 10


def test_once_the_window_has_slid_past_the_storm_a_new_alert_opens_its_own_incident_again(
    guarded: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    for n in range(LIMIT + 1):
        post(paged_client, worker_down(n))
    drain(runtime)
    assert len(incidents_of(runtime)) == LIMIT + 1  # five, and the storm

    advance(runtime, 9 * 60)  # still within 10 minutes of the storm's member: it joins
    post(paged_client, worker_down(100))
    drain(runtime)
    assert len(incidents_of(runtime)) == LIMIT + 1

    advance(runtime, 10 * 60 + 1)  # nothing new within the last 10 minutes
    post(paged_client, worker_down(101))
    drain(runtime)
    [newest] = incidents_of(runtime)[:1]
    assert newest["labels"]["instance"] == "worker-101" and "storm" not in newest
    assert events(runtime, newest["id"], "playbook.started")
