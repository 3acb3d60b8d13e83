"""One webhook request carrying many alerts: the batch is applied together, with the same outcome
as the same alerts one request at a time (real Redis, real RQ jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from tests.fakes.paging import Paging
from tests.helpers import alert, body, drain, events, incidents_of

LIMIT = 5

RULES = """
- name: workers_down
  matchers: ['alertname = "WorkerDown"']
  severity: high
  playbooks: [pause_non_critical]
  notify: [slack]
  escalation: {{after: 1h}}
  group_by: [instance]
  storm: {storm}
"""


def worker_down(n: int, status: str = "firing", instance: str | None = None) -> dict[str, object]:
    return alert("WorkerDown", status=status, fingerprint=f"wd{n:010d}", instance=instance or f"worker-{n}")


def post(client: FlaskClient, *alerts: dict[str, object]) -> None:
    response = client.post("/webhook/alertmanager", data=body(*alerts))
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def guarded(paging: Paging, config_dir: Path) -> Paging:
    (config_dir / "rules" / "30-batch.yaml").write_text(
        RULES.format(storm=f"{{max_incidents: {LIMIT}, per: 10m}}")
    )
    return paging


@pytest.fixture
def unguarded(paging: Paging, config_dir: Path) -> Paging:
    (config_dir / "rules" / "30-batch.yaml").write_text(RULES.format(storm="off"))
    return paging


def test_a_storm_in_one_request_opens_up_to_the_limit_and_the_rest_join_the_storm_incident(
    guarded: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    post(paged_client, *(worker_down(n) for n in range(LIMIT + 10)))
    drain(runtime)

    incidents = incidents_of(runtime)
    [storm] = [i for i in incidents if i["key"] == "workers_down:storm"]
    ordinary = [i for i in incidents if i is not storm]
    assert {i["labels"]["instance"] for i in ordinary} == {f"worker-{n}" for n in range(LIMIT)}
    assert storm["storm"] == {"members": 10}
    for incident in ordinary:
        assert len(events(runtime, incident["id"], "playbook.completed")) == 1
        assert len(events(runtime, incident["id"], "incident.opened")) == 1
    assert events(runtime, storm["id"], "playbook.started") == []


def test_one_request_mixing_new_joining_repeated_and_resolved_alerts_applies_each_once(
    unguarded: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    post(paged_client, worker_down(1), worker_down(2))
    drain(runtime)
    before = {i["labels"]["instance"]: i["id"] for i in incidents_of(runtime)}

    post(
        paged_client,
        worker_down(3),  # new
        worker_down(11, instance="worker-1"),  # joins worker-1's open incident
        worker_down(4),  # new, and...
        worker_down(14, instance="worker-4"),  # ...a second alert of the same new incident
        worker_down(2, "resolved"),  # resolves worker-2's incident
    )
    drain(runtime)

    incidents = {i["labels"]["instance"]: i for i in incidents_of(runtime)}
    assert sorted(incidents) == ["worker-1", "worker-2", "worker-3", "worker-4"]
    assert incidents["worker-1"]["id"] == before["worker-1"]
    assert [e["details"]["fingerprint"] for e in events(runtime, before["worker-1"], "alert.received")] == [
        "wd0000000011"
    ]
    assert incidents["worker-2"]["status"] == "resolved"
    assert len(events(runtime, incidents["worker-4"]["id"], "alert.received")) == 1
    for name in ("worker-3", "worker-4"):
        assert len(events(runtime, incidents[name]["id"], "playbook.completed")) == 1
    assert len(unguarded.slack.cards("#embedding-dev")) == 4
