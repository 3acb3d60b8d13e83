"""Escalation through real RQ workers, seen from the fake Slack, PagerDuty and SMTP.

Level 1 (dev-team) is told at once, level 2 (+ ops-team) at ``after``, level 3
(+ management) at ``2 x after``; an ack stops it for good; a failing step escalates at
once; a resolution from Alertmanager reaches every channel; timers survive a Redis
restart. These tests move the runtime's clock (``advance``) instead of sleeping through
the escalation windows; the last one kills the worker holding RQ's scheduler and waits
in real seconds for another worker to take over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from redis import Redis
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE

from responder import runtime as runtime_mod
from responder.incidents import lifecycle
from responder.runtime import Runtime
from responder.store import incidents as store
from responder.up import free_port, start_redis
from responder.webhook.app import create_app
from tests.conftest import timed_runtime
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import (
    advance,
    alert,
    body,
    descendants,
    incidents_of,
    kill_process_tree,
    levels,
    open_incident,
    start_worker,
)

AFTER = 120.0
"""The seed's escalationTime for these rules: two minutes between levels (no test waits for it)."""


def test_levels_reach_the_right_teams_on_the_right_channels_at_the_right_times(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, opened = open_incident(paged_client, runtime)

    # Level 1, at once: dev-team on Slack, email and PagerDuty; nobody else.
    assert paging.reached("dev-team") == {"slack": 1, "email": 1, "pagerduty": 1}
    assert paging.reached("ops-team") == {"slack": 0, "email": 0, "pagerduty": 0}
    # A second before level 2 is due, still nobody else; at its time, ops-team on its three channels.
    advance(runtime, AFTER - 1)
    assert paging.reached("ops-team") == {"slack": 0, "email": 0, "pagerduty": 0}
    advance(runtime, 1)
    assert paging.reached("ops-team") == {"slack": 1, "email": 1, "pagerduty": 1}
    assert paging.emails_to("eng-managers@example.com") == []
    # Level 3 at 2 x after: management, which only has email.
    advance(runtime, AFTER)
    assert len(paging.emails_to("eng-managers@example.com")) == 1

    paged = levels(runtime, incident_id)
    assert [level for level, _ in paged] == [1, 2, 3]
    # On a clock that moves only with the jobs, each level is paged exactly when it is due
    # (to the millisecond the timeline keeps).
    assert [at - opened for _, at in paged] == pytest.approx([0, AFTER, 2 * AFTER], abs=1e-3)
    # One card per channel, edited as levels pass; one PagerDuty incident per service (a
    # re-trigger at each level carries the same dedup_key, so PagerDuty updates, not duplicates).
    assert len(paging.slack_posts("#embedding-dev")) == 1
    assert len(paging.slack_posts("#ops")) == 1
    assert paging.slack.cards("#embedding-dev")[0].edits >= 2
    for key in (SECRETS.pd_key_dev, SECRETS.pd_key_ops):
        assert {r.body["dedup_key"] for r in paging.pd_events(key)} == {incident_id}
    [level_3] = [
        e for e in store.timeline(runtime.redis, runtime.keys, incident_id) if e.details.get("level") == 3
    ]
    assert "paged dev-team, ops-team, management" in level_3.message
    # Management has no Slack channel or PagerDuty service: skips on record, not silence.
    skipped = {(d["channel"], d["team"]) for d in level_3.details["deliveries"] if d["status"] == "skipped"}
    assert skipped == {("slack", "management"), ("pagerduty", "management")}


def test_repeat_pages_the_last_level_again_until_acknowledged(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, opened = open_incident(paged_client, runtime, name="PagedRepeat")
    # Levels 1-3 at 0, 2 and 4 minutes, then the last level again every 2 minutes.
    advance(runtime, 4 * AFTER + 1)
    assert [level for level, _ in levels(runtime, incident_id)] == [1, 2, 3, 4, 5]
    assert levels(runtime, incident_id)[-1][1] == pytest.approx(opened + 4 * AFTER, abs=1e-3)

    lifecycle.acknowledge(runtime, incident_id, by="alice")
    advance(runtime, 3 * AFTER)  # past three more repeats

    assert [level for level, _ in levels(runtime, incident_id)] == [1, 2, 3, 4, 5]
    timeline = store.timeline(runtime.redis, runtime.keys, incident_id)
    assert [e.message.split(":")[0] for e in timeline if e.kind == "escalation.level"][3:] == [
        "level 3 again (repeat 1)",
        "level 3 again (repeat 2)",
    ]
    mails = paging.emails_to("eng-managers@example.com")
    assert len(mails) == 4  # level 3, each repeat, then the acknowledgement
    assert "acknowledged by alice" in mails[-1].message.get_body(("plain",)).get_content()


def test_ack_after_level_1_means_no_level_2_ever(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    assert len(paging.pd_events(SECRETS.pd_key_dev)) == 1

    assert lifecycle.acknowledge(runtime, incident_id, by="alice") is True
    advance(runtime, 3 * AFTER)  # well past level 3's due time

    assert paging.reached("ops-team") == {"slack": 0, "email": 0, "pagerduty": 0}
    assert paging.emails_to("eng-managers@example.com") == []
    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
    assert [level for level, _ in levels(runtime, incident_id)] == [1]
    assert store.get(runtime.redis, runtime.keys, incident_id).status == "acknowledged"


def test_failing_step_escalates_at_once_with_the_reason(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/fail", method="POST").respond_with_data("upstream is down", status=500)
    incident_id, opened = open_incident(paged_client, runtime, "PagedFlaky", port=str(httpserver.port))

    # `after` is an hour: only the failed step (after its retries, a minute at most) can bring ops-team in.
    advance(runtime, 60)

    [(_, at)] = [(level, at) for level, at in levels(runtime, incident_id) if level == 2]
    assert at - opened < 60
    [level_2] = [
        e for e in store.timeline(runtime.redis, runtime.keys, incident_id) if e.details.get("level") == 2
    ]
    assert "always_fails" in level_2.message
    assert "answered 500 (16 bytes, sha256 " in level_2.message  # the body itself is never copied
    [ops_mail] = paging.emails_to("ops@example.com")
    assert "answered 500 (16 bytes, sha256 " in ops_mail.message.get_body(("plain",)).get_content()
    assert paging.slack_posts("#ops"), "ops-team's Slack channel was not told"
    assert paging.emails_to("eng-managers@example.com") == []


def test_alertmanager_resolving_the_alert_resolves_everywhere(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime)
    assert len(paging.pd_events(SECRETS.pd_key_dev)) == 1

    resolved = alert("Paged", status="resolved")
    assert paged_client.post("/webhook/alertmanager", data=body(resolved)).status_code == 200
    advance(runtime, 3 * AFTER)  # past every level's due time: the voided timers stay quiet

    assert store.get(runtime.redis, runtime.keys, incident_id).status == "resolved"
    [card] = paging.slack.cards("#embedding-dev")
    assert card.edits >= 1
    assert "resolved" in card.text.lower()
    assert "acknowledge" not in [a.lower() for a in card.action_ids()]
    assert paging.pagerduty.alerts[(SECRETS.pd_key_dev, incident_id)] == "resolved"
    mails = paging.emails_to("dev-team@example.com")
    assert len(mails) == 2
    update = mails[-1].message
    assert update["In-Reply-To"] == mails[0].message["Message-ID"]  # threaded onto the page
    assert "resolved" in update.get_body(("plain",)).get_content().lower()
    assert paging.pd_events(SECRETS.pd_key_ops) == []  # level 2 never came


def test_pending_timers_survive_a_redis_restart(
    paging: Paging, config_dir: Path, tmp_path: Path, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, port = tmp_path / "redis", free_port()
    redis_process, url = start_redis(data_dir, port)
    try:
        monkeypatch.setenv("REDIS_URL", url)
        monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
        monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(config_dir))
        runtime = timed_runtime()
        incident_id, opened = open_incident(create_app(runtime).test_client(), runtime)
        assert paging.reached("ops-team")["pagerduty"] == 0

        redis_process.terminate()
        redis_process.wait(15)
        redis_process, _ = start_redis(data_dir, port)
        restarted = timed_runtime()
        restarted.clock, restarted.sleep = runtime.clock, runtime.sleep  # the same test clock goes on

        advance(restarted, 2 * AFTER)
        assert paging.reached("ops-team")["pagerduty"] == 2  # levels 2 and 3 both include ops-team
        assert [level for level, _ in levels(restarted, incident_id)] == [1, 2, 3]
        assert levels(restarted, incident_id)[1][1] == pytest.approx(opened + AFTER, abs=1e-3)
    finally:
        redis_process.terminate()
        redis_process.wait(15)
        runtime_mod._current.clear()


# --- real seconds: a dead scheduler -----------------------------------------------------------------


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            kill_process_tree(process)


def _scheduler_holder(redis: Redis, queue_name: str, workers: list[subprocess.Popen[bytes]]) -> int | None:
    """Index of the worker whose scheduler holds the queue's scheduler lock."""
    holder = redis.get(SCHEDULER_LOCKING_KEY_TEMPLATE % queue_name)
    if holder is None:
        return None
    pid = redis.hget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "pid")
    if pid is None:
        return None
    for index, process in enumerate(workers):
        if int(pid) in [process.pid, *descendants(process.pid)]:
            return index
    return None


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value is not None and value is not False and value != []:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s")


def test_next_level_fires_from_another_worker_when_the_scheduler_worker_is_killed(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    env = dict(os.environ, RESPONDER_MAINTENANCE_INTERVAL="2")
    workers = [start_worker(env), start_worker(env)]
    try:
        holder = _wait(
            lambda: _scheduler_holder(runtime.redis, runtime.keys.lane_queue("control"), workers),
            30,
            "no worker's scheduler took the lock",
        )
        assert paged_client.post("/webhook/alertmanager", data=body(alert("PagedQuickly"))).status_code == 200
        _wait(lambda: paging.pd_events(SECRETS.pd_key_dev), 20, "level 1 was not paged")
        [incident] = incidents_of(runtime)
        opened = store.get(runtime.redis, runtime.keys, incident["id"]).created_at

        kill_process_tree(workers[holder])
        killed = time.time()
        assert killed - opened < 8, "level 2 came due before the kill; the test proves nothing"

        # The timeline records a level once all its deliveries are done: wait for that, not the first.
        [(_, paged_at)] = _wait(
            lambda: [p for p in levels(runtime, incident["id"]) if p[0] == 2],
            60,
            "level 2 did not fire from the other worker",
        )
        assert paged_at >= opened + 8
        survivor = workers[1 - holder]
        assert _scheduler_holder(runtime.redis, runtime.keys.lane_queue("control"), [survivor]) == 0
        # Level 3 (due at +16 s) follows; depending on when the take-over came, with level 2 or after it.
        _wait(lambda: [p for p in levels(runtime, incident["id"]) if p[0] == 3], 60, "level 3 did not fire")
        fired = [level for level, _ in levels(runtime, incident["id"])]
        # Each level paged once, though two schedulers ran. (Level 1's own record may be missing: the kill
        # can land after its last delivery and before its worker wrote it; docs/escalation.md.)
        assert fired.count(2) == 1 and fired.count(3) == 1
        # ops-team is paged by levels 2 and 3, once each (its third trigger would be a double page).
        _wait(lambda: len(paging.pd_events(SECRETS.pd_key_ops)) >= 2, 10, "level 3 did not page ops-team")
        assert len(paging.pd_events(SECRETS.pd_key_ops)) == 2
    finally:
        for process in workers:
            _stop(process)
