"""Sentinel failover under load: what Alertmanager sees, how soon the backlog clears, how late a timer is.

A Sentinel set on loopback (one primary, one replica, three sentinels, down-after 1 s;
``tests/redis_servers.py``), ``responder serve`` (2 gunicorn workers) and two
``responder worker`` processes on ``redis+sentinel://``. Each round: an escalation
incident opens (``after: 10s``); a sender posts one alert per request at a steady rate,
retrying each until it gets a 200 as Alertmanager does (``tests/drill.py``); one
second before its level 2 is due (so that it falls due a second into the outage) the
primary is SIGKILLed. The killed node is started again between rounds and Sentinel
makes it a replica, so every round fails over the other way, with the same processes.

Figures per round (all from the kill):
- ``failover_s``: until every sentinel names the new primary and it accepts writes;
- ``outage_s``: what the sender saw, first failed attempt to the first 200 after the last;
- ``backlog_s``: until every alert the sender had tried before it saw Redis back has its
  incident and a finished playbook run (time from failover to the last alert processed);
- ``timer_late_s``: level 2 of the incident, paged minus due (due during the outage), and
  ``timer_moved_late_s``: when the scheduler put it on the queue, minus due (the rest is
  queueing behind the backlog the outage built up).
And over the run: alerts answered 200 but never processed (``lost``), incidents opened
twice, and whether any process was restarted.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from redis import Redis
from rq.job import Job

from bench import alerts
from bench.procs import CONFIG_DIR
from bench.stats import summary
from responder.store import connection
from responder.store import incidents as store
from responder.store.keys import Keys
from responder.store.records import Incident
from tests.drill import Delivery, Responder, Sender, responder_env
from tests.fakes.slack import FakeSlack
from tests.redis_servers import SERVICE, Node, SentinelSet, wait_until

PREFIX = "failover"
TIMER = "BenchFailoverTimer"
AFTER = 10.0
"""The timer rule's ``after``: level 2 is due this long after the open, level 3 twice as long (a
shorter one would bring level 3 due within the failover too, and it would page instead of level 2)."""
TIMER_RULE = f"""
- name: bench_failover_timer
  matchers: ['alertname = "{TIMER}"']
  severity: high
  notify: [slack]
  escalation: {{policy: default, after: {AFTER:.0f}s}}
  group_by: [alertname, instance]
  storm: off
"""
RATE = 10.0
"""Alerts per second during a round."""
STREAM = 14.0
"""Seconds of sending per round; the kill comes about nine seconds in."""
SLACK_TOKEN = "xoxb-bench"
FINISHED = ("playbook.completed", "playbook.skipped", "playbook.failed", "playbook.cancelled")


def sizes(quick: bool) -> dict[str, Any]:
    return {"rounds": 2 if quick else 5}


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    with tempfile.TemporaryDirectory(prefix="responder-failover-") as tmp:
        workdir = Path(tmp)
        config = workdir / "config"
        shutil.copytree(CONFIG_DIR, config)
        (config / "rules" / "20-failover.yaml").write_text(TIMER_RULE)
        ha = SentinelSet.start(workdir / "ha")
        # Levels page a fake Slack on loopback: a level that reaches nobody would page the next at once.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        slack = FakeSlack(SLACK_TOKEN, ["#bench-dev", "#bench-ops", "#bench-mgmt"]).start()
        env = responder_env(ha.url, PREFIX, config, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_API_URL=slack.api_url)
        responder = Responder(env, workdir / "logs")
        try:
            web = responder.serve(workers=2)
            responder.worker("worker-1")
            responder.worker("worker-2")
            redis = connection.connect(ha.url)
            keys = Keys(PREFIX)
            sender = Sender([web])
            pids = responder.pids()
            rounds = []
            for n in range(size["rounds"]):
                rounds.append(one_round(n, ha, sender, redis, keys))
                rearm(ha)
            after = responder.pids()
            restarted = sorted(name for name in pids if after.get(name) != pids[name])
            lost, twice = audit(redis, keys, sender.deliveries)
        finally:
            responder.stop()
            ha.stop()
            slack.stop()
        logged = warnings(workdir / "logs")
    return {
        **size,
        "rate_per_s": RATE,
        "down_after_ms": 1000,
        "rounds_detail": rounds,
        "failover_s": summary([r["failover_s"] for r in rounds], scale=1.0),
        "outage_s": summary([r["outage_s"] for r in rounds if r["outage_s"] is not None], scale=1.0),
        "backlog_s": summary([r["backlog_s"] for r in rounds], scale=1.0),
        "timer_late_s": summary([r["timer_late_s"] for r in rounds], scale=1.0),
        "timer_moved_late_s": summary([r["timer_moved_late_s"] for r in rounds], scale=1.0),
        "alerts_sent": len(sender.deliveries),
        "lost": lost,
        "incidents_opened_twice": twice,
        "processes_restarted": restarted,
        "logged": logged,
    }


def one_round(n: int, ha: SentinelSet, sender: Sender, redis: Redis, keys: Keys) -> dict[str, Any]:
    timer = sender.send(alerts.alert(TIMER, f"r{n}", PREFIX))
    assert timer.delivered is not None
    opened = wait_until(lambda: _opened(redis, keys, f"r{n}"), 30, "the round's escalation incident")
    bodies = [alerts.alert(alerts.ACTION, f"r{n}-{i}", PREFIX) for i in range(int(RATE * STREAM))]
    before = len(sender.deliveries)
    stream = threading.Thread(target=sender.send_all, args=(bodies, 1 / RATE), daemon=True)
    stream.start()
    time.sleep(max(opened + AFTER - 1.0 - time.time(), 0))
    old = ha.kill_primary()
    killed = time.time()
    ha.wait_failover(old)
    promoted = time.time()
    stream.join(STREAM + 120)
    sent = sender.deliveries[before:]
    failures = sorted(at for d in sent for at, _ in d.failures)
    recovered = (
        min(d.delivered for d in sent if d.delivered is not None and d.delivered > failures[-1])
        if failures
        else killed
    )
    affected = [d for d in sent if d.first_try <= recovered]
    done = wait_until(lambda: _finished(redis, keys, affected), 180, "the round's backlog")
    paged = wait_until(lambda: _level_2(redis, keys, f"r{n}"), 60, "level 2 of the round's incident")
    moved = _moved_to_queue(redis, keys, f"r{n}")
    return {
        "failover_s": round(promoted - killed, 3),
        "outage_s": round(recovered - failures[0], 3) if failures else None,
        "failed_attempts": len(failures),
        "backlog_s": round(max(done) - killed, 3),
        "timer_late_s": round(paged - (opened + AFTER), 3),
        "timer_moved_late_s": round(moved - (opened + AFTER), 3),
        "killed_after_open_s": round(killed - opened, 3),
    }


def _incidents(redis: Redis, keys: Keys) -> dict[str, Incident]:
    return {i.labels.get("instance", ""): i for i in store.listing(redis, keys, limit=10000)}


def _opened(redis: Redis, keys: Keys, instance: str) -> float | None:
    incident = _incidents(redis, keys).get(instance)
    return incident.created_at if incident is not None else None


def _finished(redis: Redis, keys: Keys, deliveries: list[Delivery]) -> list[float] | None:
    """When each delivered alert's run finished, or None while any has not."""
    incidents = _incidents(redis, keys)
    times = []
    for delivery in deliveries:
        incident = incidents.get(delivery.instance)
        if incident is None:
            return None
        ends = [e.at for e in store.timeline(redis, keys, incident.id) if e.kind in FINISHED]
        if not ends:
            return None
        times.append(min(ends))
    return times


def _level_2(redis: Redis, keys: Keys, instance: str) -> float | None:
    incident = _incidents(redis, keys).get(instance)
    if incident is None:
        return None
    for event in store.timeline(redis, keys, incident.id):
        if event.kind == "escalation.level" and event.details.get("level") == 2:
            return event.at
    return None


def _moved_to_queue(redis: Redis, keys: Keys, instance: str) -> float:
    """When RQ's scheduler put the incident's level-2 timer on the queue (the job's ``enqueued_at``)."""
    incident = _incidents(redis, keys)[instance]
    job = Job.fetch(f"{keys.prefix}-esc-{incident.id}-2", connection=redis)
    assert job.enqueued_at is not None
    return job.enqueued_at.replace(tzinfo=UTC).timestamp()


def rearm(ha: SentinelSet) -> None:
    """Start the killed node again; Sentinel makes it a replica of the new primary."""
    node: Node = ha.killed.pop()
    node.start()

    def replica_again() -> bool:
        info = node.client().info("replication")
        known = all(
            any(
                int(r["port"]) == node.port and not r["is_sdown"] for r in s.client().sentinel_slaves(SERVICE)
            )
            for s in ha.sentinels
        )
        return bool(info["role"] == "slave" and info.get("master_link_status") == "up" and known)

    wait_until(replica_again, 60, f"{node.name} did not become a replica again")


def warnings(logs: Path) -> dict[str, int]:
    """How often each kind of warning of ours appeared in the processes' logs (what an operator sees)."""
    counts: dict[str, int] = {}
    for log in logs.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if " WARNING responder." in line or " ERROR " in line:
                kind = line.split(": ", 1)[-1].split(" (")[0][:80]
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def audit(redis: Redis, keys: Keys, deliveries: list[Delivery]) -> tuple[int, int]:
    """Alerts answered 200 without an incident, and incidents opened more than once for one alert."""
    seen: dict[str, int] = {}
    for incident in store.listing(redis, keys, limit=10000):
        instance = incident.labels.get("instance", "")
        seen[instance] = seen.get(instance, 0) + 1
    lost = sum(1 for d in deliveries if d.delivered is not None and d.instance not in seen)
    return lost, sum(1 for count in seen.values() if count > 1)
