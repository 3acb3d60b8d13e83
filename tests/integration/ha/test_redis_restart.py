"""A plain Redis killed and started again on its append-only file: the processes answer 503 meanwhile
and carry on after it by themselves; nothing answered 200 is lost."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from pytest_httpserver import HTTPServer
from redis import Redis

from responder.store import connection
from responder.store import incidents as store
from responder.store.keys import Keys
from responder.up import free_port
from tests.drill import API_TOKEN, Responder, Sender, drill_alert, responder_env
from tests.helpers import eventually
from tests.redis_servers import Node

ALERTS = 300
EVERY = 0.03
LEVEL_2_AFTER = 6.0
"""The ``ha_timer`` rule's escalation ``after``."""


def completed(redis: Redis, keys: Keys) -> dict[str, list[tuple[str, int | None]]]:
    seen: dict[str, list[tuple[str, int | None]]] = {}
    for incident in store.listing(redis, keys, limit=1000):
        entries = [(e.kind, e.details.get("step")) for e in store.timeline(redis, keys, incident.id)]
        seen.setdefault(incident.labels["instance"], []).extend(entries)
    return seen


def wait_for_all(
    redis: Redis, keys: Keys, instances: list[str], timeout: float
) -> dict[str, list[tuple[str, int | None]]]:
    """Wait until the run of each instance's incident completed; fail naming those that did not."""
    deadline = time.monotonic() + timeout
    while True:
        seen = completed(redis, keys)
        missing = [i for i in instances if ("playbook.completed", None) not in seen.get(i, [])]
        if not missing or time.monotonic() > deadline:
            assert missing == []
            return seen
        time.sleep(0.5)


def status(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=5).status_code


def test_redis_killed_and_restarted_on_its_aof_while_alerts_arrive(
    ha_config: Path, sink: HTTPServer, redis_node: Node, tmp_path: Path
) -> None:
    keys = Keys("restart")
    url = f"redis://127.0.0.1:{redis_node.port}/0"
    responder = Responder(responder_env(url, keys.prefix, ha_config), tmp_path / "logs")
    health = f"http://127.0.0.1:{free_port()}"
    redis = connection.connect(url)
    try:
        web = responder.serve()
        responder.worker("worker-1", "--health-port", health.rsplit(":", 1)[1])
        responder.worker("worker-2")
        sender = Sender([web])
        assert sender.send(drill_alert("t", sink.port, name="HATimer")).delivered
        [timer] = eventually(lambda: store.listing(redis, keys), timeout=30)
        pids = responder.pids()
        stream = sender.in_background([drill_alert(str(i), sink.port) for i in range(ALERTS)], every=EVERY)
        # Kill Redis a second before the timer incident's level 2 falls due; it is down for 2 s.
        time.sleep(max(timer.created_at + LEVEL_2_AFTER - 1.0 - time.time(), 0))

        redis_node.kill()
        killed_at = time.monotonic()
        # Meanwhile: 503 (never 500) from the webhook's neighbours too, and the worker is alive but not ready.
        assert status(f"{web}/ready") == 503
        assert status(f"{web}/api/incidents", API_TOKEN) == 503
        assert status(f"{health}/ready") == 503
        assert status(f"{health}/health") == 200
        time.sleep(max(2.0 - (time.monotonic() - killed_at), 0))
        redis_node.start()  # same port, same append-only file
        stream.join(180)

        assert not stream.is_alive()
        assert [d.instance for d in sender.deliveries if d.delivered is None] == []
        assert sender.failures, "the sender never saw the outage: the drill proves nothing"
        seen = wait_for_all(redis, keys, [str(i) for i in range(ALERTS)], timeout=120)
        paged = eventually(
            lambda: [
                e.at
                for e in store.timeline(redis, keys, timer.id)
                if e.kind == "escalation.level" and e.details["level"] == 2
            ],
            timeout=30,
        )
        assert paged[0] >= timer.created_at + LEVEL_2_AFTER  # it fired after the outage, and never early
        for instance in map(str, range(ALERTS)):
            entries = seen[instance]
            assert entries.count(("incident.opened", None)) == 1, instance
            assert entries.count(("playbook.started", None)) == 1, instance
            assert entries.count(("step.ok", 0)) == 1 and entries.count(("step.ok", 1)) == 1, instance
        assert responder.pids() == pids  # nothing exited, nothing was restarted
        assert status(f"{web}/ready") == 200
        assert status(f"{web}/api/incidents", API_TOKEN) == 200
        assert status(f"{health}/ready") == 200
    finally:
        responder.stop()
    failed = {what for _, what in sender.failures}
    assert failed <= {"503", "ConnectionError"}, failed  # a 500 would make Alertmanager give up on nothing


def test_web_and_worker_start_while_redis_is_down_and_serve_once_it_is_up(
    ha_config: Path, sink: HTTPServer, redis_node: Node, tmp_path: Path
) -> None:
    keys = Keys("coldstart")
    url = f"redis://127.0.0.1:{redis_node.port}/0"
    responder = Responder(responder_env(url, keys.prefix, ha_config), tmp_path / "logs")
    redis_node.kill()
    try:
        web = responder.serve()  # boots without Redis (answers /health)
        responder.worker("worker")
        assert status(f"{web}/ready") == 503
        sender = Sender([web])
        first = sender.send(drill_alert("cold", sink.port), give_up_after=1.0)
        assert first.delivered is None and {what for _, what in first.failures} == {"503"}

        redis_node.start()
        assert sender.send(drill_alert("cold", sink.port)).delivered
        wait_for_all(connection.connect(url), keys, ["cold"], timeout=30)
        responder.check("web")
        responder.check("worker")
    finally:
        responder.stop()
