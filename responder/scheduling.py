"""Handing work to workers: what a job is (:class:`JobSpec`) and the scheduler that queues it.

Domain code says *what* should run and *when*; :class:`Scheduler` decides how. The one
production implementation, :class:`RQScheduler`, puts jobs on RQ queues in Redis, inside
the caller's transaction when given a pipeline, so a state change and the job that
follows from it land together or not at all. Tests drive the same implementation with a
clock they move by hand (``tests/support/timeline.py``) instead of waiting.

Job functions are named by dotted path (``responder.jobs.execute_step``) so that
enqueueing never imports the code that runs the job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry

from responder.store.keys import Keys

DAY = 86400


@dataclass(frozen=True)
class JobSpec:
    """One job: the function to run, its arguments and how RQ should treat it."""

    func: str
    """Dotted path of the job function (in :mod:`responder.jobs`)."""
    args: tuple[Any, ...]
    job_id: str | None = None
    """A fixed id makes the job unique: enqueueing it again replaces the earlier one."""
    timeout: int = 180
    retry_intervals: Sequence[int] = field(default_factory=tuple)
    """Seconds before each retry after an exception; empty: no retry."""
    result_ttl: int = 600
    failure_ttl: int = 7 * DAY
    description: str | None = None
    on_failure: str | None = None
    """Dotted path of a function RQ calls with ``(job, connection, type, value, traceback)`` on failure."""


class Scheduler(Protocol):
    def enqueue(self, spec: JobSpec, *, pipeline: Pipeline | None = None) -> None:
        """Queue ``spec`` to run as soon as a worker is free."""
        ...

    def enqueue_at(self, spec: JobSpec, at: float, *, pipeline: Pipeline | None = None) -> None:
        """Queue ``spec`` to run at ``at`` (epoch seconds), never before."""
        ...


def schedule_time(at: float) -> datetime:
    """When to hand a timer to RQ: the whole second at or before ``at``.

    RQ keeps due times in whole seconds and its scheduler looks once a second, so a job
    reaches a worker between ``floor(at)`` and about a second after; a job that must not
    run early (an escalation timer) waits out the fraction itself. Rounding up instead
    made pages up to two seconds late.
    """
    return datetime.fromtimestamp(math.floor(at), UTC)


class RQScheduler:
    """Jobs on the responder's RQ queue (``keys.queue_name``), built once per process."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.queue = Queue(keys.queue_name, connection=redis)

    def _options(self, spec: JobSpec) -> dict[str, Any]:
        options: dict[str, Any] = {
            "args": spec.args,
            "job_id": spec.job_id,
            "timeout": spec.timeout,
            "result_ttl": spec.result_ttl,
            "failure_ttl": spec.failure_ttl,
            "description": spec.description,
        }
        if spec.retry_intervals:
            options["retry"] = Retry(max=len(spec.retry_intervals), interval=list(spec.retry_intervals))
        if spec.on_failure:
            options["on_failure"] = Callback(spec.on_failure)
        return options

    def enqueue(self, spec: JobSpec, *, pipeline: Pipeline | None = None) -> None:
        self.queue.enqueue_call(spec.func, pipeline=pipeline, **self._options(spec))

    def enqueue_at(self, spec: JobSpec, at: float, *, pipeline: Pipeline | None = None) -> None:
        job = self.queue.create_job(spec.func, **self._options(spec))
        self.queue.schedule_job(job, schedule_time(at), pipeline=pipeline)
