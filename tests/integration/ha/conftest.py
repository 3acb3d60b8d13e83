"""Fixtures for the HA tests: private Redis servers (plain, replicated, Sentinel), a config whose
every alert opens its own incident and runs a two-step playbook, and in-process workers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis

from responder import runtime as runtime_mod
from responder import worker
from responder.runtime import Runtime
from responder.store import connection
from responder.store.keys import Keys
from tests.fakes.smtp import SmtpServer
from tests.redis_servers import Node, Replicated, SentinelSet, server

HA_RULES = """
- name: ha_drill
  matchers: ['alertname = "HADrill"']
  severity: high
  playbooks: [ha_touch]
  notify: [email]
  escalation: {after: 1h}
  group_by: [alertname, instance]
  storm: {max_incidents: 10000, per: 10m}   # a drill sends hundreds of distinct alerts on purpose
- name: ha_timer
  matchers: ['alertname = "HATimer"']
  severity: critical
  notify: [email]
  escalation: {after: 6s}
  group_by: [alertname]
"""
HA_PLAYBOOK = """
name: ha_touch
steps:
  - action: http.request
    with: {method: POST, url: "http://127.0.0.1:{{ alert.labels.port }}/first/{{ alert.labels.instance }}"}
    timeout: 30s
  - action: http.request
    with: {method: POST, url: "http://127.0.0.1:{{ alert.labels.port }}/second/{{ alert.labels.instance }}"}
    timeout: 30s
"""
TOUCHED = re.compile(r"^/(first|second)/.+$")


@pytest.fixture
def ha_config(config_dir: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test config plus rule ``ha_drill`` (one incident per ``instance``, playbook ``ha_touch``:
    two HTTP calls to the sink on label ``port``, a target per instance) and ``ha_timer`` (level 2
    after 6 s). Their pages go by email to the test's SMTP server, so a level reaches someone and
    the next one waits for its timer (a level nobody is reached on would page the next at once)."""
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_FROM": "Alert Responder <responder@example.com>",
    }.items():
        monkeypatch.setenv(name, value)
    (config_dir / "rules" / "30-ha.yaml").write_text(HA_RULES)
    (config_dir / "playbooks" / "ha_touch.yaml").write_text(HA_PLAYBOOK)
    main = config_dir / "responder.yaml"  # hundreds of runs an hour: more than the budget allows
    main.write_text(main.read_text().replace("max_actions_per_hour: 100\n", "max_actions_per_hour: 100000\n"))
    assert "max_actions_per_hour: 100000" in main.read_text()
    return config_dir


@pytest.fixture
def sink(httpserver: HTTPServer) -> HTTPServer:
    """Answers 200 to the playbook's calls and keeps them (``sink.log``)."""
    httpserver.expect_request(TOUCHED, method="POST").respond_with_data("ok")
    return httpserver


@pytest.fixture
def redis_node(tmp_path: Path) -> Iterator[Node]:
    """A private redis-server with its append-only file, restartable on the same port."""
    node = server("redis", tmp_path).start()
    yield node
    node.stop()


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[Replicated]:
    pair = Replicated.start(tmp_path)
    yield pair
    pair.stop()


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """One primary, one replica, three sentinels on loopback (down after 1 s)."""
    ha = SentinelSet.start(tmp_path / "ha")
    yield ha
    ha.stop()


@pytest.fixture
def node_runtime(redis_node: Node, ha_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A runtime on the private Redis, on the wall clock, installed for jobs run in this process.

    Its client gives up after about half a second (the web's patience), so a test that takes
    Redis away sees it fail fast.
    """
    url = f"redis://127.0.0.1:{redis_node.port}/0"
    keys = Keys("ha")
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(ha_config))
    built = runtime_mod.build(ha_config, redis=connection.connect(url, connection.WEB), keys=keys)
    runtime_mod.install(built)
    yield built
    runtime_mod._current.clear()


class QuietWorker(worker.ResponderWorker):
    """The responder's worker without RQ's command channel (pub/sub), for burst runs in a test
    (the reason is in tests.helpers.InProcessWorker)."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


@pytest.fixture
def responder_worker() -> Callable[[Redis, Keys], QuietWorker]:
    """Makes the responder's worker, set up as :func:`responder.worker.build_worker` does, for a
    burst in this process."""

    def make(redis: Redis, keys: Keys) -> QuietWorker:
        built = QuietWorker(
            worker.worker_queues(redis, keys),
            connection=redis,
            job_monitoring_interval=worker.HEARTBEAT,
            worker_ttl=worker.WORKER_TTL,
        )
        built.responder_keys = keys
        return built

    return make
