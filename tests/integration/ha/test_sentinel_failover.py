"""A Sentinel failover while Alertmanager is sending: nothing accepted is lost, nothing restarts,
and an escalation that fell due during the failover still fires."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis
from redis.sentinel import MasterNotFoundError
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from responder.store import connection
from responder.store import incidents as store
from responder.store.keys import Keys
from tests.drill import Responder, Sender, drill_alert, responder_env
from tests.fakes.paging import Paging
from tests.helpers import eventually
from tests.redis_servers import SentinelSet

ALERTS = 80
EVERY = 0.08
"""Seconds between alerts: the failover (about 2 s) falls in the middle of the stream."""
LEVEL_2_AFTER = 6.0
"""The ``ha_timer`` rule's escalation ``after``."""


def outcome(redis: Redis, keys: Keys) -> dict[str, list[tuple[str, int | None]]]:
    """instance -> its incidents' timeline entries (kind, step), for every drill incident."""
    seen: dict[str, list[tuple[str, int | None]]] = {}
    for incident in store.listing(redis, keys, limit=1000):
        entries = [(e.kind, e.details.get("step")) for e in store.timeline(redis, keys, incident.id)]
        seen.setdefault(incident.labels["instance"], []).extend(entries)
    return seen


def wait_until_done(redis: Redis, keys: Keys, timeout: float) -> dict[str, list[tuple[str, int | None]]]:
    """Wait until every drill alert's run completed and the timer incident was paged twice; fail naming
    what is missing."""
    deadline = time.monotonic() + timeout
    while True:
        seen = outcome(redis, keys)
        missing = [i for i in map(str, range(ALERTS)) if ("playbook.completed", None) not in seen.get(i, [])]
        if seen.get("t", []).count(("escalation.level", None)) < 2:
            missing.append("level 2 of the timer incident")
        if not missing or time.monotonic() > deadline:
            assert missing == []
            return seen
        time.sleep(0.5)


def test_sentinel_failover_while_alerts_arrive_loses_none_and_restarts_nothing(
    paging: Paging, ha_config: Path, sink: HTTPServer, sentinel_set: SentinelSet, tmp_path: Path
) -> None:
    keys = Keys("drill")
    responder = Responder(responder_env(sentinel_set.url, keys.prefix, ha_config), tmp_path / "logs")
    redis = connection.connect(sentinel_set.url)
    try:
        web = responder.serve()
        responder.worker("worker-1")
        responder.worker("worker-2")
        sender = Sender([web])
        assert sender.send(drill_alert("t", sink.port, name="HATimer")).delivered
        [timer] = eventually(lambda: store.listing(redis, keys), timeout=30)
        pids = responder.pids()

        stream = sender.in_background([drill_alert(str(i), sink.port) for i in range(ALERTS)], every=EVERY)
        # Kill the primary a second before the timer incident's level 2 falls due.
        time.sleep(max(timer.created_at + LEVEL_2_AFTER - 1.0 - time.time(), 0))
        old = sentinel_set.kill_primary()
        killed_at = time.time()
        new = sentinel_set.wait_failover(old)
        stream.join(180)

        assert not stream.is_alive()
        assert [d.instance for d in sender.deliveries if d.delivered is None] == []
        assert any(d.first_try < killed_at for d in sender.deliveries[1:])
        assert any(d.first_try > killed_at for d in sender.deliveries[1:])

        seen = wait_until_done(redis, keys, timeout=90)
        for instance in map(str, range(ALERTS)):
            entries = seen[instance]
            assert entries.count(("incident.opened", None)) == 1, instance  # one incident, not two
            assert entries.count(("playbook.started", None)) == 1, instance
            assert entries.count(("step.ok", 0)) == 1 and entries.count(("step.ok", 1)) == 1, instance
        paged = [
            (e.details["level"], e.at)
            for e in store.timeline(redis, keys, timer.id)
            if e.kind == "escalation.level"
        ]
        [level_2] = [at for level, at in paged if level == 2]
        assert level_2 >= timer.created_at + LEVEL_2_AFTER  # fired after the failover, never early
        assert responder.pids() == pids  # no process, nor gunicorn worker, was restarted
        # A scheduler holds its lock on the new primary, heartbeating.
        assert new.client().get(SCHEDULER_LOCKING_KEY_TEMPLATE % keys.queue_name) is not None
    finally:
        responder.stop()
    touched = {request.path for request, _ in sink.log}
    assert touched == {f"/{step}/{i}" for step in ("first", "second") for i in range(ALERTS)}


def test_the_url_password_goes_to_the_nodes_and_redis_sentinel_password_to_the_sentinels(
    tmp_path: Path,
) -> None:
    ha = SentinelSet.start(tmp_path / "auth", password="node-secret", sentinel_password="sentinel-secret")
    try:
        client = connection.connect(ha.url, environ={"REDIS_SENTINEL_PASSWORD": "sentinel-secret"})
        client.set("through", "both passwords")
        assert client.get("through") == b"both passwords"

        without = connection.connect(ha.url, connection.PROBE, environ={})
        with pytest.raises(MasterNotFoundError) as refused:
            without.ping()
        assert "AuthenticationError" in str(refused.value)  # the sentinels refused it
        assert "secret" not in str(refused.value)
    finally:
        ha.stop()
