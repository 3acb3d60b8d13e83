"""Alert-to-action latency at idle: webhook received → first step started → step finished.

One alert at a time (the next is sent once the previous run has finished and the
queue is empty), so each figure is the pipeline's own latency, not queueing behind
other alerts. Instants come from the incident timeline: ``received_at`` (taken by the
web process as the request arrives), ``incident.opened`` (the batch job), and
``step.ok`` (at the step's end, with its ``seconds``; start = end - seconds).
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from bench import alerts, procs, timelines
from bench.stats import epoch, summary
from responder.scheduling import queue_names
from responder.store.keys import Keys

WORKER_COUNTS = (1, 4)
GAP = 0.01
"""Seconds of quiet between one alert's end and the next alert."""
WARMUP = 5


def sizes(quick: bool) -> dict[str, Any]:
    return {"alerts": 100 if quick else 1000}


def _post(conn: http.client.HTTPConnection, body: bytes) -> int:
    for attempt in (1, 2):
        try:
            conn.request(
                "POST", "/webhook/alertmanager", body=body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            return response.status
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # gunicorn closes a keep-alive connection idle for 2 s; a resend is at worst a duplicate.
            conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _wait_done(st: procs.Stack, prefix: str, instance: str, timeout: float = 15) -> bool:
    """Until the flag the playbook sets carries ``instance`` and the queue is empty."""
    redis, key = st.redis, Keys(prefix).flags
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = redis.hget(key, "benchSeq")
        if raw and json.loads(raw).get("seq") == instance and timelines.queue_state(redis, prefix).idle:
            return True
        time.sleep(0.002)
    return False


def measure(st: procs.Stack, workers: int, count: int) -> dict[str, Any]:
    prefix = f"latency-{workers}w"
    web, base = st.responder_web(prefix)
    pool = st.responder_workers(prefix, workers)
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    timeouts = 0
    try:
        for i in range(-WARMUP, count):
            instance = f"warm{-i}" if i < 0 else str(i)
            status = _post(conn, alerts.one(alerts.ACTION, prefix, instance))
            if status != 200:
                raise RuntimeError(f"webhook answered {status}")
            if not _wait_done(st, prefix, instance):
                timeouts += 1
            time.sleep(GAP)
    finally:
        conn.close()
        st.stop([web, *pool])
    jobs = job_phases(st, prefix)
    opened, started, finished, step = [], [], [], []
    missing = 0
    for incident in timelines.incidents(st.redis, prefix):
        if incident.instance.startswith("warm"):
            continue
        opening = incident.of("incident.opened")
        done = incident.of("step.ok")
        if not opening or not done:
            missing += 1
            continue
        received = epoch(opening[0]["details"]["received_at"])
        end = epoch(done[0]["at"])
        start = end - float(done[0]["details"]["seconds"])
        opened.append(epoch(opening[0]["at"]) - received)
        started.append(start - received)
        finished.append(end - received)
        step.append(float(done[0]["details"]["seconds"]))
    return {
        "workers": workers,
        "alerts": count,
        "measured": len(finished),
        "missing": missing,
        "timeouts": timeouts,
        "opened_ms": summary(opened),
        "started_ms": summary(started),
        "finished_ms": summary(finished),
        "step_ms": summary(step),
        "jobs": jobs,
        "samples_started": [round(x * 1000, 1) for x in started],
        "samples_finished": [round(x * 1000, 1) for x in finished],
    }


def job_phases(st: procs.Stack, prefix: str) -> dict[str, dict[str, Any]]:
    """Per job function, from RQ's own timestamps: waiting (enqueued → started: dequeue and RQ's
    set-up) and running (started → ended: our function)."""
    from rq import Queue
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    ids = [
        job_id
        for name in queue_names(Keys(prefix))
        for job_id in FinishedJobRegistry(queue=Queue(name, connection=st.redis)).get_job_ids()
    ]
    waits: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {}
    for job in Job.fetch_many(ids, connection=st.redis):
        if job is None or not (job.enqueued_at and job.started_at and job.ended_at):
            continue
        name = job.func_name.rsplit(".", 1)[-1]
        waits.setdefault(name, []).append((job.started_at - job.enqueued_at).total_seconds())
        runs.setdefault(name, []).append((job.ended_at - job.started_at).total_seconds())
    return {name: {"wait_ms": summary(waits[name]), "run_ms": summary(runs[name])} for name in waits}


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    with procs.stack() as st:
        series = {str(n): measure(st, n, size["alerts"]) for n in WORKER_COUNTS}
    return {**size, "gap_s": GAP, "series": series}
