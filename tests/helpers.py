"""Test helpers: Alertmanager-shaped payloads and draining the queue with a real RQ worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from responder.runtime import Runtime
from responder.scheduling import LANES, Lane, queue_names
from responder.store import incidents as store


def alert(
    name: str,
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: str = "2026-11-28T10:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} is happening"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T10:30:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint or f"fp{abs(hash(name)) % 10**12:012d}",
    }


def payload(*alerts: dict[str, Any], group_key: str = '{}:{alertname="X"}') -> dict[str, Any]:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "responder",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def body(*alerts: dict[str, Any], **kwargs: Any) -> bytes:
    return json.dumps(payload(*alerts, **kwargs)).encode()


class InProcessWorker(SimpleWorker):
    """RQ's SimpleWorker without its command channel (pub/sub), for burst runs inside tests.

    A burst that ends within milliseconds of starting tears its pub/sub thread down before
    Redis confirmed the subscription; redis-py's thread then waits out its 60 s poll before
    it stops, and the test with it. Tests send no worker commands, so they need no channel.
    """

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


class MovingClock:
    """The runtime's clock in tests: it starts at the wall time and moves only when the test moves it.

    :func:`advance` and :func:`drain` move it to each job's due time before running the job,
    and ``sleep`` (a timer job waiting out the last fraction of a second before its due
    time) moves it too, so every time a test reads is exact and no test waits.
    """

    def __init__(self) -> None:
        self.start = time.time()
        self.offset = 0.0

    def __call__(self) -> float:
        return self.start + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += max(seconds, 0.0)


def advance(runtime: Runtime, seconds: float) -> None:
    """Let ``seconds`` pass on the runtime's :class:`MovingClock`, running every job that comes due
    on the way, in due order, with a real RQ worker in this process (as RQ's scheduler would)."""
    end = _moving(runtime)() + seconds
    _run_due(runtime, end)
    runtime.clock.offset += max(end - runtime.clock(), 0.0)  # type: ignore[attr-defined]
    _run_due(runtime, end)


def _moving(runtime: Runtime) -> MovingClock:
    clock = runtime.clock
    assert isinstance(clock, MovingClock), "this helper needs the runtime fixture's MovingClock"
    return clock


def lane_queues(runtime: Runtime, lanes: tuple[Lane, ...] = LANES) -> list[Queue]:
    """The responder's RQ queues of ``lanes``, in the order workers serve them."""
    return [Queue(name, connection=runtime.redis) for name in queue_names(runtime.keys, lanes)]


def queued(runtime: Runtime) -> int:
    """Jobs waiting in every lane."""
    return sum(queue.count for queue in lane_queues(runtime))


def _run_due(runtime: Runtime, until: float) -> None:
    """Run what is queued, then jump the clock to each scheduled job due by ``until`` and run it."""
    clock = _moving(runtime)
    queues = lane_queues(runtime)
    scheduled = [ScheduledJobRegistry(queue=queue) for queue in queues]
    while True:
        while work_once(queues, clock()):
            pass
        upcoming = [
            entry[0][1]
            for entry in (runtime.redis.zrange(registry.key, 0, 0, withscores=True) for registry in scheduled)
            if entry
        ]
        if not upcoming or min(upcoming) > until:
            return
        clock.offset += max(min(upcoming) - clock(), 0.0)


def work_once(queues: list[Queue], now: float | None = None) -> bool:
    """Move jobs due by ``now`` (default: the wall clock) to their lanes' queues, as RQ's scheduler does,
    then run a real RQ worker in this process over the lanes, in lane order, until they are empty.
    False when there was nothing to do."""
    now = datetime.now(UTC).timestamp() if now is None else now
    for queue in queues:
        scheduled = ScheduledJobRegistry(queue=queue)
        for job_id in scheduled.get_jobs_to_schedule(now):
            job = queue.fetch_job(job_id)
            scheduled.remove(job_id)
            if job is not None:
                queue._enqueue_job(job)
    if not any(queue.count for queue in queues):
        return False
    InProcessWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")
    return True


def drain(runtime: Runtime, timeout: float = 30.0) -> None:
    """Run every job that is queued or comes due within ``timeout`` seconds, in due order.

    The clock jumps to each due job (retries with backoff, short timers) instead of waiting
    for it; jobs due later (the next escalation levels) stay scheduled.
    """
    _run_due(runtime, _moving(runtime)() + timeout)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_process_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and everything it forked, as when its machine dies.

    RQ's job horse runs in its own session and the scheduler is a separate process, so
    killing the worker's process group alone would leave them running.
    """
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(10)


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``responder worker [args]`` as its own process (its log goes to $WORKER_LOG when set)."""
    return subprocess.Popen(
        [sys.executable, "-m", "responder", "worker", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("WORKER_LOG", os.devnull), "ab"),
    )


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its docstring after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not true within {timeout}s: {check.__doc__ or check}")


def incidents_of(runtime: Runtime) -> list[dict[str, Any]]:
    """Every incident as the API shows it, newest first."""
    return [i.public() for i in store.listing(runtime.redis, runtime.keys)]


def incident_of(runtime: Runtime, incident_id: str) -> dict[str, Any]:
    """One incident as the API shows it."""
    return store.get(runtime.redis, runtime.keys, incident_id).public()


def timeline_of(runtime: Runtime, incident_id: str) -> list[dict[str, Any]]:
    """An incident's timeline as the API shows it."""
    return [e.public() for e in store.timeline(runtime.redis, runtime.keys, incident_id)]


def open_incident(
    client: FlaskClient, runtime: Runtime, name: str = "Paged", **labels: str
) -> tuple[str, float]:
    """Post a firing alert and run what it starts; returns the new incident's id and when it opened."""
    before = {i.id for i in store.listing(runtime.redis, runtime.keys)}
    response = client.post("/webhook/alertmanager", data=body(alert(name, **labels)))
    assert response.status_code == 200, response.get_json()
    advance(runtime, 0)
    [incident] = [i for i in store.listing(runtime.redis, runtime.keys) if i.id not in before]
    return incident.id, incident.created_at


def events(runtime: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` entries of an incident's timeline, as the API shows them."""
    return [e for e in timeline_of(runtime, incident_id) if e["kind"] == kind]


def levels(runtime: Runtime, incident_id: str) -> list[tuple[int, float]]:
    """(level, when it was paged) for every ``escalation.level`` entry of the timeline."""
    return [
        (e.details["level"], e.at)
        for e in store.timeline(runtime.redis, runtime.keys, incident_id)
        if e.kind == "escalation.level"
    ]
