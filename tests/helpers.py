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

from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from responder.runtime import Runtime


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


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker without its pub/sub thread. In burst mode nobody sends it commands, and on
    teardown redis-py's thread can sit out RQ's 60 s sleep_time when the unsubscribe lands first (a
    race in rq 2.12 with redis 8), which made drain() time out now and then."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def work_once(queue: Queue, scheduled: ScheduledJobRegistry) -> bool:
    """Move due scheduled jobs to the queue (as RQ's scheduler does), then run a real RQ worker
    in this process until the queue is empty. False when there was nothing to do."""
    for job_id in scheduled.get_jobs_to_schedule(datetime.now(UTC).timestamp()):
        job = queue.fetch_job(job_id)
        scheduled.remove(job_id)
        if job is not None:
            queue._enqueue_job(job)
    if not queue.count:
        return False
    BurstWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    return True


def drain(runtime: Runtime, timeout: float = 30.0, settle: float = 0.0) -> None:
    """Run a real RQ worker (in this process) until no job is queued, running or scheduled.

    Scheduled jobs (retries with backoff, escalation timers) are moved to the queue when
    due, as the RQ scheduler would, so a test waits for them in real time.
    """
    queue = Queue(runtime.keys.queue_name, connection=runtime.redis)
    scheduled = ScheduledJobRegistry(queue=queue)
    started = StartedJobRegistry(queue=queue)
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if work_once(queue, scheduled):
            quiet_since = None
            continue
        # Jobs scheduled beyond the deadline (later escalation levels) do not keep us waiting.
        due_soon = scheduled.get_jobs_to_schedule(
            datetime.now(UTC).timestamp() + max(deadline - time.monotonic(), 0)
        )
        if not due_soon and started.count == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return
        time.sleep(0.05)
    raise AssertionError(
        f"queue did not drain in {timeout}s: {queue.count} queued, {scheduled.count} scheduled"
    )


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


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``responder worker`` as its own process (its log goes to $WORKER_LOG when set)."""
    return subprocess.Popen(
        [sys.executable, "-m", "responder", "worker"],
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
