"""Escalation through real workers and short real timers, seen from the fake Slack, PagerDuty and SMTP.

Level 1 (dev-team) is told at once, level 2 (+ ops-team) at ``after``, level 3
(+ management) at ``2 x after``; an ack stops it for good; a failing step escalates at
once; a resolution from Alertmanager reaches every channel; timers survive a dead
scheduler and a Redis restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE

from responder import runtime as runtime_mod
from responder.incidents import service
from responder.runtime import Runtime
from responder.store import incidents as store
from responder.up import free_port, start_redis
from responder.webhook.app import create_app
from tests.fakes.notify_env import SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer
from tests.helpers import alert, body, descendants, kill_process_tree, start_worker, work_once

AFTER = 3.0
"""Seconds between levels in these tests."""
EARLY = 0.0
"""A level never fires before it is due (timers round their due time up to RQ's whole seconds)."""
LATE = 6.0
"""Generous: a level must arrive within this many seconds after it is due."""

PAGING_YAML = """
teams:
  dev-team: {slack: "#embedding-dev", email: [dev-team@example.com], pagerduty: "${PD_ROUTING_KEY_DEV}"}
  ops-team: {slack: "#ops", email: [ops@example.com], pagerduty: "${PD_ROUTING_KEY_OPS}"}
  management: {email: [eng-managers@example.com]}
escalation_policies:
  default:
    - [dev-team]
    - [dev-team, ops-team]
    - [dev-team, ops-team, management]
public_url: https://responder.example.com
"""
"""Replaces the test config's teams and policy; its flags and rate-limit profiles stay."""

RULES_YAML = """
- name: paged
  matchers: ['alertname = "Paged"']
  severity: critical
  notify: [slack, email, pagerduty]
  escalation: {after: 3s}
  group_by: [alertname]
- name: paged_flaky
  matchers: ['alertname = "PagedFlaky"']
  playbooks: [always_fails]
  notify: [slack, email, pagerduty]
  escalation: {after: 1h}
- name: paged_repeat
  matchers: ['alertname = "PagedRepeat"']
  notify: [email]
  escalation: {after: 2s, repeat: true}
  group_by: [alertname]
- name: paged_approval
  matchers: ['alertname = "NeedsApproval"']
  playbooks: [approve_then_flag]
  notify: [slack, email, pagerduty]
  escalation: {after: 1h}
  group_by: [alertname]
"""

APPROVAL_PLAYBOOK = """
name: approve_then_flag
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: 7}
    requires_approval: true
"""


# --- the fakes, one per module (starting and stopping them is slow) --------------------------------


@dataclass
class Arrival:
    at: float
    """Wall-clock time the fake had it (polled every 20 ms)."""
    channel: str
    item: Any


@dataclass
class Paging:
    """The fakes, and when each request reached them."""

    slack: FakeSlack
    pagerduty: FakePagerDuty
    smtp: SmtpServer
    arrivals: list[Arrival] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        seen = {"slack": 0, "pagerduty": 0, "email": 0}
        while not self._stop.is_set():
            now = time.time()
            for name, items in (
                ("slack", self.slack.requests),
                ("pagerduty", self.pagerduty.requests),
                ("email", self.smtp.received),
            ):
                for item in list(items)[seen[name] :]:
                    self.arrivals.append(Arrival(now, name, item))
                    seen[name] += 1
            time.sleep(0.02)

    def pd_events(self, routing_key: str, action: str = "trigger") -> list[Arrival]:
        return [
            a
            for a in self.arrivals
            if a.channel == "pagerduty"
            and a.item.body.get("routing_key") == routing_key
            and a.item.body.get("event_action") == action
        ]

    def emails_to(self, address: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.channel == "email" and address in a.item.rcpt_tos]

    def slack_posts(self, channel: str) -> list[Arrival]:
        """Top-level ``chat.postMessage`` requests to ``channel`` (cards, not thread replies)."""
        return [
            a
            for a in self.arrivals
            if a.channel == "slack"
            and a.item.api_method == "chat.postMessage"
            and a.item.body.get("channel") in (channel, self.slack.channel_ids.get(channel))
            and not a.item.body.get("thread_ts")
        ]


def _without_paging(text: str) -> str:
    """``responder.yaml`` minus its top-level ``teams``, ``escalation_policies`` and ``public_url``."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line[:1] not in (" ", "\t", "") and line.strip():
            skipping = line.split(":", 1)[0] in ("teams", "escalation_policies", "public_url")
        if not skipping:
            out.append(line)
    return "".join(out)


@pytest.fixture
def paging(
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack_server: FakeSlack,
    pagerduty_server: FakePagerDuty,
    smtp_server: SmtpServer,
    ca_file: str,
) -> Iterator[Paging]:
    """Three-level paging config and every channel pointed at its fake (request it before ``runtime``)."""
    main = config_dir / "responder.yaml"
    main.write_text(_without_paging(main.read_text()) + PAGING_YAML)
    (config_dir / "rules" / "20-paging.yaml").write_text(RULES_YAML)
    (config_dir / "playbooks" / "approve_then_flag.yaml").write_text(APPROVAL_PLAYBOOK)
    env = {
        "SLACK_BOT_TOKEN": SECRETS.slack_token,
        "SLACK_SIGNING_SECRET": SECRETS.signing_secret,
        "SLACK_API_URL": slack_server.api_url,
        "PAGERDUTY_API_URL": pagerduty_server.url,
        "PD_ROUTING_KEY_DEV": SECRETS.pd_key_dev,
        "PD_ROUTING_KEY_OPS": SECRETS.pd_key_ops,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_FROM": "Alert Responder <responder@example.com>",
        "SSL_CERT_FILE": ca_file,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for server in (slack_server, pagerduty_server, smtp_server):
        server.reset()
    paging = Paging(slack_server, pagerduty_server, smtp_server)
    watcher = threading.Thread(target=paging.watch, daemon=True)
    watcher.start()
    yield paging
    paging._stop.set()
    watcher.join(5)


@pytest.fixture
def client(paging: Paging, runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


# --- running jobs -----------------------------------------------------------------------------------


def work(runtime: Runtime, seconds: float, until: Callable[[], bool] | None = None) -> bool:
    """Run a real RQ worker in this process for ``seconds`` (or until ``until()`` holds and the
    queue is empty), moving scheduled jobs to the queue when due as the RQ scheduler does."""
    queue = Queue(runtime.keys.queue_name, connection=runtime.redis)
    scheduled = ScheduledJobRegistry(queue=queue)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if work_once(queue, scheduled):
            continue
        if until is not None and until():
            return True
        time.sleep(0.05)
    return until is None


def open_incident(
    client: FlaskClient, runtime: Runtime, name: str = "Paged", **labels: str
) -> tuple[str, float]:
    """Post a firing alert; returns the incident id and when it was posted."""
    posted = time.time()
    response = client.post("/webhook/alertmanager", data=body(alert(name, **labels)))
    assert response.status_code == 200
    assert work(runtime, 20, until=lambda: bool(store.listing(runtime.redis, runtime.keys)))
    [incident] = store.listing(runtime.redis, runtime.keys)
    return str(incident["id"]), posted


def events(runtime: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in store.timeline(runtime.redis, runtime.keys, incident_id) if e["kind"] == kind]


def first_at(arrivals: list[Arrival]) -> float:
    assert arrivals, "expected a request, none arrived"
    return min(a.at for a in arrivals)


# --- tests ------------------------------------------------------------------------------------------


def test_levels_reach_the_right_teams_on_the_right_channels_at_the_right_times(
    paging: Paging, runtime: Runtime, client: FlaskClient
) -> None:
    incident_id, opened = open_incident(client, runtime)
    work(runtime, 2 * AFTER + LATE, until=lambda: bool(paging.emails_to("eng-managers@example.com")))
    work(runtime, 1.0)  # let any stray page show itself

    # Level 1, at once: dev-team on Slack, email and PagerDuty; nobody else.
    assert first_at(paging.slack_posts("#embedding-dev")) - opened < LATE
    assert first_at(paging.emails_to("dev-team@example.com")) - opened < LATE
    assert first_at(paging.pd_events(SECRETS.pd_key_dev)) - opened < LATE
    # Level 2 at `after`: ops-team joins on its three channels.
    for arrivals in (
        paging.slack_posts("#ops"),
        paging.emails_to("ops@example.com"),
        paging.pd_events(SECRETS.pd_key_ops),
    ):
        assert AFTER - EARLY <= first_at(arrivals) - opened <= AFTER + LATE
    # Level 3 at 2 x after: management, which only has email.
    assert first_at(paging.emails_to("eng-managers@example.com")) - opened >= 2 * AFTER - EARLY
    assert first_at(paging.emails_to("eng-managers@example.com")) - opened <= 2 * AFTER + LATE
    # One card per channel, edited as levels pass; one PagerDuty incident per service (a
    # re-trigger at each level carries the same dedup_key, so PagerDuty updates, not duplicates).
    assert len(paging.slack_posts("#embedding-dev")) == 1
    assert len(paging.slack_posts("#ops")) == 1
    assert paging.slack.cards("#embedding-dev")[0].edits >= 2
    for key in (SECRETS.pd_key_dev, SECRETS.pd_key_ops):
        assert {a.item.body["dedup_key"] for a in paging.pd_events(key)} == {incident_id}
    levels = [e["details"]["level"] for e in events(runtime, incident_id, "escalation.level")]
    assert levels == [1, 2, 3]
    [level_3] = [e for e in events(runtime, incident_id, "escalation.level") if e["details"]["level"] == 3]
    assert "paged dev-team, ops-team, management" in level_3["message"]
    # Management has no Slack channel or PagerDuty service: skips on record, not silence.
    skipped = {
        (d["channel"], d["team"]) for d in level_3["details"]["deliveries"] if d["status"] == "skipped"
    }
    assert skipped == {("slack", "management"), ("pagerduty", "management")}


def test_repeat_pages_the_last_level_again_until_acknowledged(
    paging: Paging, runtime: Runtime, client: FlaskClient
) -> None:
    incident_id, _ = open_incident(client, runtime, name="PagedRepeat")
    # Levels 1-3 at 0, 2 and 4 s, then the last level again every 2 s.
    assert work(
        runtime, 4 + 2 * 2 + LATE, until=lambda: len(events(runtime, incident_id, "escalation.level")) >= 5
    )
    service.acknowledge(runtime, incident_id, by="alice")
    reached = len(events(runtime, incident_id, "escalation.level"))
    work(runtime, 2 * 2 + 2)  # past two more repeats

    levels = [e["details"]["level"] for e in events(runtime, incident_id, "escalation.level")]
    assert levels[:5] == [1, 2, 3, 4, 5]
    assert len(levels) == reached  # nothing after the ack
    management = paging.emails_to("eng-managers@example.com")
    assert len(management) >= 3  # level 3 and its repeats reach management each time


def test_ack_after_level_1_means_no_level_2_ever(
    paging: Paging, runtime: Runtime, client: FlaskClient
) -> None:
    incident_id, opened = open_incident(client, runtime)
    assert work(runtime, LATE, until=lambda: bool(paging.pd_events(SECRETS.pd_key_dev)))
    assert time.time() - opened < AFTER - EARLY, "level 1 took so long the test cannot ack before level 2"

    assert service.acknowledge(runtime, incident_id, by="alice") is True
    work(runtime, 2 * AFTER + 3)  # well past level 3's due time

    assert paging.slack_posts("#ops") == []
    assert paging.emails_to("ops@example.com") == []
    assert paging.emails_to("eng-managers@example.com") == []
    assert paging.pd_events(SECRETS.pd_key_ops) == []
    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
    assert [e["details"]["level"] for e in events(runtime, incident_id, "escalation.level")] == [1]
    assert store.get(runtime.redis, runtime.keys, incident_id)["status"] == "acknowledged"


def test_failing_step_escalates_at_once_with_the_reason(
    paging: Paging, runtime: Runtime, client: FlaskClient, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/fail", method="POST").respond_with_data("upstream is down", status=500)
    incident_id, _ = open_incident(client, runtime, "PagedFlaky", port=str(httpserver.port))

    # `after` is an hour: only the failed step can bring ops-team in now.
    assert work(runtime, 60, until=lambda: bool(paging.pd_events(SECRETS.pd_key_ops)))

    [level_2] = [e for e in events(runtime, incident_id, "escalation.level") if e["details"]["level"] == 2]
    assert "always_fails" in level_2["message"]
    assert "answered 500 (16 bytes, sha256 " in level_2["message"]  # the body itself is never copied
    [ops_mail] = paging.emails_to("ops@example.com")
    assert "answered 500 (16 bytes, sha256 " in ops_mail.item.message.get_body(("plain",)).get_content()
    assert paging.slack_posts("#ops"), "ops-team's Slack channel was not told"
    assert paging.emails_to("eng-managers@example.com") == []


def test_alertmanager_resolving_the_alert_resolves_everywhere(
    paging: Paging, runtime: Runtime, client: FlaskClient
) -> None:
    incident_id, _ = open_incident(client, runtime)
    assert work(runtime, LATE, until=lambda: bool(paging.pd_events(SECRETS.pd_key_dev)))

    resolved = alert("Paged", status="resolved")
    assert client.post("/webhook/alertmanager", data=body(resolved)).status_code == 200
    assert work(runtime, 20, until=lambda: bool(paging.pd_events(SECRETS.pd_key_dev, "resolve")))
    work(runtime, 2 * AFTER + 2)  # past every level's due time: the voided timers stay quiet

    assert store.get(runtime.redis, runtime.keys, incident_id)["status"] == "resolved"
    [card] = paging.slack.cards("#embedding-dev")
    assert card.edits >= 1
    assert "resolved" in card.text.lower()
    assert "acknowledge" not in [a.lower() for a in card.action_ids()]
    assert paging.pagerduty.alerts[(SECRETS.pd_key_dev, incident_id)] == "resolved"
    mails = paging.emails_to("dev-team@example.com")
    assert len(mails) == 2
    update = mails[-1].item.message
    assert update["In-Reply-To"] == mails[0].item.message["Message-ID"]  # threaded onto the page
    assert "resolved" in update.get_body(("plain",)).get_content().lower()
    assert paging.pd_events(SECRETS.pd_key_ops) == []  # level 2 never came


# --- processes: a dead scheduler, a restarted Redis ------------------------------------------------


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
    paging: Paging, runtime: Runtime, client: FlaskClient, config_dir: Path
) -> None:
    # A longer `after` so the kill lands before level 2 is due.
    rules = config_dir / "rules" / "20-paging.yaml"
    rules.write_text(rules.read_text().replace("after: 3s}", "after: 8s}", 1))
    runtime.reload()
    env = dict(os.environ, RESPONDER_MAINTENANCE_INTERVAL="2")
    workers = [start_worker(env), start_worker(env)]
    try:
        holder = _wait(
            lambda: _scheduler_holder(runtime.redis, runtime.keys.queue_name, workers),
            30,
            "no worker's scheduler took the lock",
        )
        posted = time.time()
        assert client.post("/webhook/alertmanager", data=body(alert("Paged"))).status_code == 200
        _wait(lambda: paging.pd_events(SECRETS.pd_key_dev), 20, "level 1 was not paged")

        kill_process_tree(workers[holder])
        killed = time.time()
        assert killed - posted < 8 - EARLY, "level 2 came due before the kill; the test proves nothing"

        _wait(lambda: paging.pd_events(SECRETS.pd_key_ops), 60, "level 2 did not fire from the other worker")
        assert first_at(paging.pd_events(SECRETS.pd_key_ops)) - killed < 60
        assert first_at(paging.pd_events(SECRETS.pd_key_ops)) - posted >= 8 - EARLY
        survivor = workers[1 - holder]
        assert _scheduler_holder(runtime.redis, runtime.keys.queue_name, [survivor]) == 0
    finally:
        for process in workers:
            _stop(process)


def test_pending_timers_survive_a_redis_restart(
    paging: Paging, config_dir: Path, tmp_path: Path, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, port = tmp_path / "redis", free_port()
    redis_process, url = start_redis(data_dir, port)
    try:
        monkeypatch.setenv("REDIS_URL", url)
        monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
        monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(config_dir))
        runtime_mod._current.clear()
        runtime = runtime_mod.current()
        client = create_app(runtime).test_client()
        incident_id, opened = open_incident(client, runtime)
        assert work(runtime, LATE, until=lambda: bool(paging.pd_events(SECRETS.pd_key_dev)))
        assert paging.pd_events(SECRETS.pd_key_ops) == []

        redis_process.terminate()
        redis_process.wait(15)
        redis_process, _ = start_redis(data_dir, port)
        runtime_mod._current.clear()
        runtime = runtime_mod.current()

        assert work(
            runtime, 2 * AFTER + LATE, until=lambda: bool(paging.emails_to("eng-managers@example.com"))
        )
        assert first_at(paging.pd_events(SECRETS.pd_key_ops)) - opened >= AFTER - EARLY
        levels = [e["details"]["level"] for e in events(runtime, incident_id, "escalation.level")]
        assert levels == [1, 2, 3]
    finally:
        redis_process.terminate()
        redis_process.wait(15)
        runtime_mod._current.clear()
