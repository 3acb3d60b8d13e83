"""Failures: steps that keep failing, workers killed mid-step, Redis going away."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis
from werkzeug import Request, Response

from responder import runtime as runtime_mod
from responder.runtime import Runtime
from responder.scheduling import LANES, queue_names
from responder.store import flags
from responder.store.keys import Keys
from responder.up import start_redis
from responder.webhook.app import create_app
from tests.fakes.smtp import SmtpServer
from tests.helpers import (
    InProcessWorker,
    alert,
    body,
    drain,
    incidents_of,
    kill_process_tree,
    lane_queues,
    start_worker,
    timeline_of,
)


def events(runtime: Runtime, kind: str | None = None) -> list[dict[str, Any]]:
    [incident] = incidents_of(runtime)
    timeline = timeline_of(runtime, incident["id"])
    return [e for e in timeline if kind is None or e["kind"] == kind]


def test_step_that_keeps_failing_is_retried_then_recorded_and_stops_run(
    runtime: Runtime, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/fail", method="POST").respond_with_data("upstream is down", status=500)
    client = create_app(runtime).test_client()

    client.post("/webhook/alertmanager", data=body(alert("Flaky", port=str(httpserver.port))))
    drain(runtime, timeout=60)

    assert len(httpserver.log) == 3  # the first attempt and two retries
    retries = events(runtime, "step.retry")
    assert [e["message"].split(" failed")[0] for e in retries] == [
        "always_fails step 1/2 (http.request) attempt 1",
        "always_fails step 1/2 (http.request) attempt 2",
    ]
    [failed] = events(runtime, "step.failed")
    assert "after 3 attempts" in failed["message"]
    # The body is measured and hashed, never copied: it could echo what the request sent.
    digest = hashlib.sha256(b"upstream is down").hexdigest()
    assert f"answered 500 (16 bytes, sha256 {digest})" in failed["message"]
    assert "upstream is down" not in failed["message"]
    # The run stopped: step 2 never ran.
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
    assert events(runtime, "playbook.completed") == []


class SlowOnce:
    """A handler that hangs on its first request (until released) and answers at once afterwards."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: Request) -> Response:
        self.calls += 1
        if self.calls == 1:
            self.first_arrived.set()
            self.release.wait(120)
        return Response("ok", status=200)


def test_killed_worker_resumes_run_at_the_step_it_was_on(
    runtime: Runtime, httpserver: HTTPServer, config_dir: Path
) -> None:
    slow = SlowOnce()
    httpserver.expect_request("/slow", method="POST").respond_with_handler(slow)
    client = create_app(runtime).test_client()
    env = dict(os.environ, RESPONDER_MAINTENANCE_INTERVAL="2")

    client.post("/webhook/alertmanager", data=body(alert("Slow", port=str(httpserver.port))))
    first = start_worker(env)
    try:
        assert slow.first_arrived.wait(60), "step 2 never started"
        kill_process_tree(first)  # the machine dies mid-step
        slow.release.set()
        second = start_worker(env)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not events(runtime, "playbook.completed"):
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        slow.release.set()
        if first.poll() is None:
            kill_process_tree(first)

    assert events(runtime, "playbook.completed"), "the run did not finish after the worker died"
    done = [(e["details"]["step"], e["kind"]) for e in events(runtime) if e["kind"] == "step.ok"]
    assert done == [(0, "step.ok"), (1, "step.ok"), (2, "step.ok")]  # step 1 ran once, step 2 resumed
    assert slow.calls == 2
    assert flags.get(runtime.redis, runtime.keys, "queueBasedProcessing")["enabled"] is False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    process, url = start_redis(tmp_path / "redis", port=None)
    yield process, url, tmp_path / "redis"
    if process.poll() is None:
        process.terminate()
        process.wait(10)


def test_webhook_answers_503_when_redis_is_down_and_writes_nothing(
    private_redis: tuple[subprocess.Popen[bytes], str, Path], config_dir: Path
) -> None:
    process, url, data_dir = private_redis
    redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    keys = Keys("faults")
    runtime = runtime_mod.build(config_dir, redis=redis, keys=keys)
    client = create_app(runtime).test_client()

    process.terminate()
    process.wait(10)
    response = client.post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")))
    assert response.status_code == 503
    assert response.get_json()["error"] == "Redis is unreachable; nothing was accepted, retry later"
    assert client.get("/ready").status_code == 503

    # Redis comes back with its append-only file: nothing of the refused request is there.
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    restarted, _ = start_redis(data_dir, port=port)
    try:
        assert list(redis.scan_iter(f"{keys.prefix}:dedupe:*")) == []
        assert list(redis.scan_iter(f"{keys.prefix}:batch:*")) == []
        assert [redis.llen(f"rq:queue:{name}") for name in queue_names(keys)] == [0] * len(LANES)
        # Alertmanager's retry is then accepted in full.
        retry = client.post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")))
        assert retry.status_code == 200
        assert json.loads(retry.get_data()) == {"accepted": 1, "duplicates": 0}
        assert client.get("/ready").status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(10)


COUNTED_RULE = """
- name: counted
  matchers: ['alertname = "Counted"']
  playbooks: [throttle_when_busy]
  notify: [email]
  escalation: {after: 1h}
  group_by: [alertname, instance]
"""
COUNTED_PLAYBOOK = """
name: throttle_when_busy
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: 9}
    when: alert.labels.count > 5
"""


@pytest.fixture
def counted(config_dir: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rule whose playbook's condition compares a label with a number (a string > an int raises),
    paging by email through a real SMTP server (a page nobody receives is recorded as unreached)."""
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EMAIL_FROM", "Alert Responder <responder@example.com>")
    (config_dir / "rules" / "20-counted.yaml").write_text(COUNTED_RULE)
    (config_dir / "playbooks" / "throttle_when_busy.yaml").write_text(COUNTED_PLAYBOOK)
    return config_dir


def test_a_condition_that_raises_on_label_data_fails_the_step_and_pages(
    counted: Path, smtp: SmtpServer, runtime: Runtime
) -> None:
    client = create_app(runtime).test_client()
    client.post("/webhook/alertmanager", data=body(alert("Counted", count="abc", instance="a")))
    drain(runtime)

    [failed] = events(runtime, "step.failed")
    assert failed["message"] == (
        "throttle_when_busy step 1/1 (flags.set) failed: condition `alert.labels.count > 5` could not be "
        "evaluated: TypeError: '>' not supported between instances of 'str' and 'int'"
    )
    # People are paged at once with the reason (the next level not yet paged).
    paged = [e for e in events(runtime, "escalation.level") if "could not be evaluated" in e["message"]]
    assert len(paged) == 1
    told = [
        m for m in smtp.received if "could not be evaluated" in m.message.get_body(("plain",)).get_content()
    ]
    assert sorted(tuple(m.rcpt_tos) for m in told) == [
        ("dev@example.com",),
        ("dev@example.com",),
        ("ops@example.com",),
    ]
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
    # The run ended and let go of its target: the next alert's run acts (and fails the same way).
    client.post(
        "/webhook/alertmanager", data=body(alert("Counted", count="abc", instance="b", fingerprint="b"))
    )
    drain(runtime)
    assert len([i for i in incidents_of(runtime) if i["rule"] == "counted"]) == 2
    skipped = [
        e
        for i in incidents_of(runtime)
        for e in timeline_of(runtime, i["id"])
        if e["kind"] == "playbook.skipped"
    ]
    assert skipped == []


def test_a_step_job_that_keeps_failing_unexpectedly_ends_its_run_and_pages(
    counted: Path, runtime: Runtime
) -> None:
    client = create_app(runtime).test_client()
    client.post("/webhook/alertmanager", data=body(alert("Counted", count="9", instance="a")))
    InProcessWorker(lane_queues(runtime), connection=runtime.redis).work(burst=True, max_jobs=1)  # opens it
    [run_key] = list(runtime.redis.scan_iter(f"{runtime.keys.prefix}:run:*"))
    runtime.redis.hset(run_key, "alert", "{not json")  # the run's record no longer reads
    drain(runtime, timeout=120)

    [failed] = events(runtime, "step.failed")
    assert failed["message"].startswith("throttle_when_busy step 1 failed: its job failed unexpectedly: ")
    assert "JSONDecodeError" in failed["message"]
    assert runtime.redis.hget(run_key, "status") == b"failed"
    assert [e["details"]["level"] for e in events(runtime, "escalation.level")] == [1, 2]
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
