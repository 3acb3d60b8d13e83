"""Lanes through real RQ workers: a page, a click or an ack never waits behind playbook steps.

The first tests run an in-process RQ worker over the lane queues; the last two run real
``responder worker`` processes, one of them serving only the control lane, and wait in
real seconds (a few) for a timer to come due while the general worker is stuck in a step.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from rq import Queue
from werkzeug import Request, Response

from responder.cli import main
from responder.config.models import Step
from responder.incidents import lifecycle
from responder.playbooks.runs import step_job
from responder.runtime import Runtime
from responder.scheduling import Lane
from responder.store import incidents as store
from responder.webhook.app import create_app
from responder.worker import worker_queues
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import (
    InProcessWorker,
    alert,
    body,
    events,
    eventually,
    kill_process_tree,
    lane_queues,
    levels,
    open_incident,
    start_worker,
)

STEP = Step(action="flags.set", with_={"flag": "retryAttempts", "value": 9})


def queue_steps(runtime: Runtime, count: int, lane: Lane = Lane.LOW) -> None:
    """``count`` step jobs of runs that no longer exist (each would end as "stale"): a backlog."""
    for n in range(count):
        runtime.scheduler.enqueue(step_job(f"backlog{n:010d}", 0, STEP, lane))


def waiting(runtime: Runtime) -> dict[str, int]:
    return {queue.name.rsplit(":", 1)[1]: queue.count for queue in lane_queues(runtime)}


def take_one(runtime: Runtime) -> None:
    InProcessWorker(lane_queues(runtime), connection=runtime.redis).work(
        burst=True, max_jobs=1, logging_level="WARNING"
    )


def test_an_ack_reaches_pagerduty_and_slack_before_500_queued_steps_and_an_alert_before_the_steps(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    queue_steps(runtime, 500)
    # After the steps were queued: an alert of another rule, then the on-call acknowledges.
    paged_client.post("/webhook/alertmanager", data=body(alert("PagedQuickly")))
    ack = paged_client.post(f"/api/incidents/{incident_id}/ack", json={"by": "alice"})
    assert ack.status_code == 200
    assert waiting(runtime) == {"control": 1, "intake": 1, "critical": 0, "high": 0, "medium": 0, "low": 500}

    take_one(runtime)  # the first job any worker takes: telling PagerDuty and Slack about the ack
    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
    [card] = paging.slack.cards("#embedding-dev")
    assert "Acknowledged by *alice*" in str(card.blocks)
    assert waiting(runtime)["intake"] == 1 and waiting(runtime)["low"] == 500

    take_one(runtime)  # then the alert, still before every step
    assert {i.rule for i in store.listing(runtime.redis, runtime.keys)} == {"paged", "paged_quickly"}
    assert waiting(runtime)["low"] == 500


def test_a_critical_incidents_playbooks_finish_before_a_backlog_of_lower_steps(runtime: Runtime) -> None:
    queue_steps(runtime, 50, Lane.LOW)
    queue_steps(runtime, 1, Lane.MEDIUM)
    # api_quota_exhaustion is critical: its two playbooks (three steps) go before the backlog.
    create_app(runtime).test_client().post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")))
    take_one(runtime)  # the batch: the incident opens, each run queues its first step
    [incident] = store.listing(runtime.redis, runtime.keys)
    assert waiting(runtime) == {"control": 0, "intake": 0, "critical": 2, "high": 0, "medium": 1, "low": 50}

    for _ in range(3):
        take_one(runtime)

    assert len(events(runtime, incident.id, "playbook.completed")) == 2
    assert waiting(runtime) == {"control": 0, "intake": 0, "critical": 0, "high": 0, "medium": 1, "low": 50}


@pytest.mark.parametrize(
    ("lanes", "error"),
    [
        ("control,bogus", "unknown lane 'bogus': lanes are control, intake, critical, high, medium, low"),
        (",", "name at least one lane: control, intake, critical, high, medium, low"),
    ],
)
def test_worker_refuses_an_unknown_lane_and_names_the_lanes(lanes: str, error: str) -> None:
    result = CliRunner().invoke(main, ["worker", "--lanes", lanes])
    assert result.exit_code == 2
    assert f"Invalid value for '--lanes': {error}" in result.output


# --- real worker processes ----------------------------------------------------------------------


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    # Killed, not asked: a warm shutdown is not under test here, and RQ's pub/sub thread makes one
    # take up to 20 s.
    for process in processes:
        kill_process_tree(process)


def test_a_control_lane_worker_pages_and_acks_but_never_takes_a_step(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    queue_steps(runtime, 20)
    control = start_worker(dict(os.environ), "--lanes", "control")
    try:
        eventually(lambda: runtime.redis.smembers(f"rq:workers:{runtime.keys.lane_queue('control')}"))
        ready = paged_client.get("/ready").get_json()["detail"]
        assert ready["lanes"] == {"control": 1, "intake": 0, "critical": 0, "high": 0, "medium": 0, "low": 0}
        assert ready["unserved_lanes"] == ["intake", "critical", "high", "medium", "low"]

        paged_client.post(f"/api/incidents/{incident_id}/ack", json={"by": "alice"})
        eventually(lambda: paging.pd_events(SECRETS.pd_key_dev, "acknowledge"))
        paged_client.post(f"/api/incidents/{incident_id}/resolve", json={"by": "alice"})
        eventually(lambda: paging.pd_events(SECRETS.pd_key_dev, "resolve"))
        # Between and after those two jobs the worker went back to its queue: had it served the
        # step lanes it would have taken a step at once.
        assert waiting(runtime)["low"] == 20

        # Its scheduler still moves the step lanes' due jobs (a step's retry) into their queues,
        # for the general workers: RQ's own would watch only the control lane.
        retry = step_job("retried0000000000", 0, STEP, Lane.LOW)
        runtime.scheduler.enqueue_at(retry, time.time())
        eventually(lambda: waiting(runtime)["low"] == 21)
        metrics = paged_client.get("/metrics").get_data(as_text=True)
        assert 'responder_queue_depth{lane="low"} 21.0' in metrics
        assert 'responder_queue_depth{lane="control"} 0.0' in metrics
    finally:
        _stop(control)
    assert waiting(runtime)["low"] == 21  # it stopped without having taken one


class Blocking:
    """An HTTP endpoint that holds every request until released: a step that takes as long as we like."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: Request) -> Response:
        self.entered.set()
        self.release.wait(120)
        return Response("ok", status=200)


SLOW_RULE = """
- name: slow_paged
  matchers: ['alertname = "SlowPaged"']
  severity: low
  playbooks: [slow_then_flag]
  notify: [slack, email, pagerduty]
  escalation: {after: 3s}
  group_by: [alertname]
"""


@pytest.fixture
def slow_rule(paging: Paging, config_dir: Path) -> Paging:
    """Paging plus a low-severity rule whose playbook calls a slow endpoint (ask for it before runtime)."""
    (config_dir / "rules" / "30-slow.yaml").write_text(SLOW_RULE)
    return paging


def test_a_timer_fires_through_the_control_worker_while_the_general_worker_is_inside_a_long_step(
    slow_rule: Paging, runtime: Runtime, paged_client: FlaskClient, httpserver: HTTPServer
) -> None:
    slow = Blocking()
    httpserver.expect_request("/slow", method="POST").respond_with_handler(slow)
    env = dict(os.environ)
    control, general = start_worker(env, "--lanes", "control"), start_worker(env)
    try:
        posted = paged_client.post(
            "/webhook/alertmanager", data=body(alert("SlowPaged", port=str(httpserver.port)))
        )
        assert posted.status_code == 200
        assert slow.entered.wait(60), "the general worker never reached the slow step"
        [incident] = store.listing(runtime.redis, runtime.keys)

        # Level 2 is due 3 s after the open; the only worker that serves steps is stuck in one.
        eventually(lambda: [p for p in levels(runtime, incident.id) if p[0] == 2], timeout=60)
        assert slow_rule.pd_events(SECRETS.pd_key_ops)  # ops-team was paged, on PagerDuty too
        assert not slow.release.is_set()
        assert events(runtime, incident.id, "playbook.completed") == []
        [(_, paged_at)] = [p for p in levels(runtime, incident.id) if p[0] == 2]
        assert paged_at >= incident.created_at + 3

        slow.release.set()
        eventually(lambda: events(runtime, incident.id, "playbook.completed"), timeout=60)
    finally:
        slow.release.set()
        _stop(control, general)


def test_a_page_update_queued_by_the_version_before_lanes_is_still_sent(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    lifecycle.acknowledge(runtime, incident_id, by="alice")
    runtime.redis.delete(f"rq:queue:{runtime.keys.lane_queue('control')}")  # as if queued before lanes:
    Queue(runtime.keys.queue_name, connection=runtime.redis).enqueue_call(
        lifecycle.PAGING_UPDATE, args=(incident_id, "ack", "alice")
    )
    assert worker_queues(runtime.redis, runtime.keys, (Lane.CONTROL,))[-1].name.endswith(":control")

    InProcessWorker(worker_queues(runtime.redis, runtime.keys), connection=runtime.redis).work(burst=True)

    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
