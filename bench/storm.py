"""Alert storm: distinct alerts in 10-alert payloads, each payload posted by two Alertmanager replicas.

Checks what a storm must not break (every incident opened exactly once, nothing lost,
no playbook run twice) and measures time to drain, peak queue depth, and the memory of
the web and worker processes meanwhile (the ``memory`` benchmark is this run's samples).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from bench import alerts, load, procs, timelines
from bench.stats import epoch, summary
from responder.scheduling import queue_names
from responder.store.keys import Keys

WORKERS = 4
PER_PAYLOAD = 10
REPLICA_CONCURRENCY = 4
"""Requests in flight per replica; two replicas post every payload."""


def sizes(quick: bool) -> dict[str, Any]:
    return {"payloads": 100 if quick else 1000, "drain_timeout": 240 if quick else 900}


class DepthSampler:
    """Queue depth (jobs waiting) every ``interval`` seconds, in a thread."""

    def __init__(self, st: procs.Stack, prefix: str, interval: float = 0.2) -> None:
        self.st, self.prefix, self.interval = st, prefix, interval
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DepthSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        redis = self.st.redis
        while not self._stop.wait(self.interval):
            state = timelines.queue_state(redis, self.prefix)
            self.samples.append((time.monotonic() - self._t0, state.queued, state.started))


def run(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    size = {**sizes(quick), **(overrides or {})}
    prefix = "storm"
    count = size["payloads"] * PER_PAYLOAD
    bodies = [
        alerts.body(alerts.ACTION, prefix, i * PER_PAYLOAD, PER_PAYLOAD) for i in range(size["payloads"])
    ]
    with procs.stack() as st:
        web, base = st.responder_web(prefix)
        pool = st.responder_workers(prefix, WORKERS)
        answers: dict[str, list[load.Answer]] = {}

        def replica(name: str) -> None:
            answers[name] = load.send_all(
                f"{base}/webhook/alertmanager", bodies, concurrency=REPLICA_CONCURRENCY
            )

        roles = {"web": [web.pid], "workers": [p.pid for p in pool], "redis": [st.redis_proc.pid]}
        with procs.MemorySampler(roles) as memory, DepthSampler(st, prefix) as depth:
            t0 = time.time()
            replicas = [threading.Thread(target=replica, args=(n,)) for n in ("am-0", "am-1")]
            for thread in replicas:
                thread.start()
            for thread in replicas:
                thread.join()
            sent = time.time()
            drained = timelines.wait_idle(st.redis, prefix, size["drain_timeout"])
        st.stop([web, *pool])
        incidents = timelines.incidents(st.redis, prefix)
        jobs_failed = _failed_jobs(st, prefix)
    return {
        **size,
        "alerts": count,
        "per_payload": PER_PAYLOAD,
        "workers": WORKERS,
        "replica_concurrency": REPLICA_CONCURRENCY,
        "drained": drained,
        **_ingest(answers),
        **_verify(incidents, count, t0),
        "jobs_failed": jobs_failed,
        "send_seconds": sent - t0,
        "peak_queue_depth": max((q for _, q, _ in depth.samples), default=0),
        "depth_samples": [(round(t, 2), q) for t, q, _ in depth.samples],
        "memory": {
            name: {
                "peak_pss_mib": role.peak_pss_total / 2**20,
                "peak_rss_process_mib": role.peak_rss_process / 2**20,
                "peak_processes": role.peak_processes,
                "samples": [(round(t, 2), round(b / 2**20, 1)) for t, b in role.samples],
            }
            for name, role in memory.result.items()
        },
    }


def _ingest(answers: dict[str, list[load.Answer]]) -> dict[str, Any]:
    every = [a for replica in answers.values() for a in replica]
    ok = [a for a in every if a.status == 200]
    return {
        "requests": len(every),
        "non_200": len(every) - len(ok),
        "accepted": sum(a.body["accepted"] for a in ok),
        "duplicates": sum(a.body["duplicates"] for a in ok),
        "request_ms": summary([a.latency for a in every]),
    }


def _verify(incidents: list[timelines.Incident], expected: int, t0: float) -> dict[str, Any]:
    per_instance = Counter(i.instance for i in incidents)
    started = Counter(len(i.of("playbook.started")) for i in incidents)
    ok = Counter(len(i.of("step.ok")) for i in incidents)
    skipped = sum(1 for i in incidents if i.of("playbook.skipped"))
    last = max((epoch(e["at"]) for i in incidents for e in i.events), default=t0)
    step_ends = [epoch(e["at"]) for i in incidents for e in i.of("step.ok")]
    return {
        "incidents": len(incidents),
        "distinct_alerts_with_incident": len(per_instance),
        "incidents_opened_twice": sum(1 for n in per_instance.values() if n > 1),
        "lost": expected - len(per_instance),
        "runs_started_per_incident": dict(started),
        "steps_ok_per_incident": dict(ok),
        "duplicate_runs": sum(n for runs, n in started.items() if runs > 1),
        "actions_run": sum(runs * n for runs, n in ok.items()),
        "runs_skipped_playbook_lock": skipped,
        "drain_seconds": last - t0,
        "last_action_seconds": (max(step_ends) - t0) if step_ends else None,
    }


def _failed_jobs(st: procs.Stack, prefix: str) -> int:
    from rq import Queue
    from rq.registry import FailedJobRegistry

    return sum(
        FailedJobRegistry(queue=Queue(name, connection=st.redis)).count for name in queue_names(Keys(prefix))
    )
