"""The RQ worker, tuned for an incident responder.

RQ's defaults suit batch work: a dead worker's job is noticed after its heartbeat
expires (at least 60 s) and found by maintenance every 10 minutes, and a scheduler
whose worker died is replaced after minutes. An on-call engineer cannot wait that
long, so ours heartbeats every few seconds and cleans up every ``maintenance``
seconds; a step on a killed worker resumes on another within ~30 s.
"""

from __future__ import annotations

import logging
import os

from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from responder.store.keys import Keys

log = logging.getLogger(__name__)

HEARTBEAT = 5
"""Seconds between heartbeats while a job runs (RQ's job_monitoring_interval)."""
ABANDON_AFTER = 15
"""A job whose worker has not heartbeaten for this long is abandoned and retried."""
MAINTENANCE = 10
"""Seconds between registry clean-ups (RQ's default is 600)."""


class ResponderWorker(Worker):
    def get_heartbeat_ttl(self, job: Job) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + ABANDON_AFTER
        return self.job_monitoring_interval + ABANDON_AFTER


def build_worker(redis: Redis, keys: Keys, *, name: str | None = None) -> ResponderWorker:
    queue = Queue(keys.queue_name, connection=redis)
    return ResponderWorker(
        [queue],
        connection=redis,
        name=name,
        job_monitoring_interval=HEARTBEAT,
        maintenance_interval=int(os.environ.get("RESPONDER_MAINTENANCE_INTERVAL", MAINTENANCE)),
    )


def run(redis: Redis, keys: Keys, *, burst: bool = False, with_scheduler: bool = True) -> bool:
    worker = build_worker(redis, keys)
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")
