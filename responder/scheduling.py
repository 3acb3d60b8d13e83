"""Handing work to workers: what a job is (:class:`JobSpec`), its lane, and the scheduler that queues it.

Domain code says *what* should run, *when* and in which :class:`Lane`; :class:`Scheduler`
decides how. The one production implementation, :class:`RQScheduler`, puts jobs on one
RQ queue per lane in Redis, inside the caller's transaction when given a pipeline, so a
state change and the job that follows from it land together or not at all. Tests drive
the same implementation with a clock they move by hand (``tests/helpers.py``) instead of
waiting.

Lanes (docs/operations.md, Lanes) are served in strict priority order: a worker takes a job from a lane
only when every lane before it is empty. So an escalation timer or a Slack click
(``control``) never waits behind an accepted batch (``intake``), and a batch never waits
behind playbook steps, which go to the lane of their incident's severity.

Job functions are named by dotted path (``responder.jobs.execute_step``) so that
enqueueing never imports the code that runs the job.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.registry import ScheduledJobRegistry
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from responder.store.codec import text
from responder.store.keys import Keys

DAY = 86400


class Lane(enum.StrEnum):
    """Where a job waits. Declared in serving order: earlier lanes always go first."""

    CONTROL = "control"
    """Slack clicks, ack/resolve paging updates, escalation timers, deferred deliveries: short jobs
    that must never wait."""
    INTAKE = "intake"
    """Accepted webhook batches: alerts becoming incidents."""
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    """Playbook steps, by their incident's severity."""


LANES: tuple[Lane, ...] = tuple(Lane)
"""Every lane, in the strict order workers serve them."""


def step_lane(severity: str) -> Lane:
    """The lane of a playbook step of an incident of ``severity``; an unknown one counts as high
    (as an alert without a recognisable severity label does)."""
    try:
        lane = Lane(severity)
    except ValueError:
        return Lane.HIGH
    return lane if lane not in (Lane.CONTROL, Lane.INTAKE) else Lane.HIGH


def parse_lanes(text: str) -> tuple[Lane, ...]:
    """``"control,intake"`` as lanes in serving order (duplicates dropped).

    Raises:
        ValueError: a name is not a lane, or none is given; the message lists the lanes.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = ", ".join(LANES)
    if not names:
        raise ValueError(f"name at least one lane: {known}")
    unknown = [name for name in names if name not in LANES]
    if unknown:
        raise ValueError(f"unknown lane {', '.join(repr(n) for n in unknown)}: lanes are {known}")
    wanted = set(names)
    return tuple(lane for lane in LANES if lane in wanted)


def queue_names(keys: Keys, lanes: Iterable[Lane] = LANES) -> list[str]:
    """The RQ queue names of ``lanes``, in serving order."""
    return [keys.lane_queue(lane) for lane in lanes]


def lane_depths(redis: Redis, keys: Keys) -> tuple[dict[Lane, int], int]:
    """What waits in each lane, in serving order, and how many jobs wait for their time (timers,
    retries with backoff). The intake lane counts the accepted batches on the intake list, which
    its drain job works through, besides its queued jobs."""
    names = queue_names(keys)
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(Queue.redis_queue_namespace_prefix + name)
        pipe.llen(keys.intake_batches)
        for name in names:
            pipe.zcard(ScheduledJobRegistry(name, connection=redis).key)
        answers = [int(x) for x in pipe.execute()]
    queued, batches, scheduled = answers[: len(names)], answers[len(names)], answers[len(names) + 1 :]
    depths = dict(zip(LANES, queued, strict=True))
    depths[Lane.INTAKE] += batches
    return depths, sum(scheduled)


@dataclass(frozen=True)
class JobSpec:
    """One job: the function to run, its arguments, its lane and how RQ should treat it."""

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
    lane: Lane = Lane.CONTROL
    """Where the job waits. The default suits the short jobs people wait on (clicks, pages);
    anything that can take long (a playbook step) must name its lane."""


class Scheduler(Protocol):
    def enqueue(self, spec: JobSpec, *, pipeline: Pipeline | None = None) -> None:
        """Queue ``spec`` in its lane to run as soon as a worker is free."""
        ...

    def enqueue_at(self, spec: JobSpec, at: float, *, pipeline: Pipeline | None = None) -> None:
        """Queue ``spec`` in its lane to run at ``at`` (epoch seconds), never before."""
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
    """Jobs on the responder's RQ queues, one per lane (``keys.lane_queue``), built once per process."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.queues = {lane: Queue(keys.lane_queue(lane), connection=redis) for lane in LANES}

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
        self.queues[spec.lane].enqueue_call(spec.func, pipeline=pipeline, **self._options(spec))

    def enqueue_at(self, spec: JobSpec, at: float, *, pipeline: Pipeline | None = None) -> None:
        queue = self.queues[spec.lane]
        job = queue.create_job(spec.func, **self._options(spec))
        queue.schedule_job(job, schedule_time(at), pipeline=pipeline)


def lane_workers(redis: Redis, keys: Keys) -> dict[Lane, int]:
    """How many live workers serve each lane, from RQ's per-queue worker registrations.

    A registration outlives a worker killed without a goodbye until some worker serving that
    queue cleans it up, which nobody does for a lane nobody else serves; so each one counts
    only while its worker's own key (renewed by its heartbeat) still exists.
    """
    with redis.pipeline(transaction=False) as pipe:
        for name in queue_names(keys):
            pipe.smembers(WORKERS_BY_QUEUE_KEY % name)
        registered = [[text(member) for member in members] for members in pipe.execute()]
    every = sorted({key for members in registered for key in members})
    with redis.pipeline(transaction=False) as pipe:
        for key in every:
            pipe.exists(key)
        alive = {key for key, exists in zip(every, pipe.execute(), strict=True) if exists}
    return {
        lane: sum(key in alive for key in members) for lane, members in zip(LANES, registered, strict=True)
    }
