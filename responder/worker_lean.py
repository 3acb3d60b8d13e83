"""RQ's per-job bookkeeping, made lean for storms of short jobs.

A storm's steps take milliseconds each, and RQ's bookkeeping around each (heartbeats,
worker state, a WATCH for dependents we never have, a thread to heartbeat the job) cost
about as much as the step (py-spy, bench/drain.py). :class:`LeanWorker` keeps what the
bookkeeping is for and drops the round trips that say nothing new.

The heartbeat of the job a worker has in hand comes from one thread per worker.

RQ's forking worker heartbeats from the parent while the child works. Ours runs jobs in
its own process (:mod:`responder.worker`), so a thread must beat meanwhile, or a long step
would be taken for abandoned. It used to be a thread per job; in a storm of short steps the
start and join of that thread was a measurable part of every job, so now one thread lives as
long as the worker and is told which job runs.
"""

from __future__ import annotations

import logging
import threading
import time

from redis.client import Pipeline
from redis.exceptions import RedisError
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.utils import now
from rq.worker import WorkerStatus
from rq.worker.base import BaseWorker

from responder.worker_grace import GracefulWorker

log = logging.getLogger(__name__)


TICK = 0.5
"""Seconds between the heartbeat thread's looks at the job in hand."""


class JobBeater:
    """Heartbeats for the job in hand while it runs, from one thread that lives as long as the worker.

    RQ's forking worker heartbeats from the parent while the child works; in-process we need
    a thread. Starting one per job cost every job of a storm a thread start and join, and
    waking one for each job's start and end cost it a switch of threads; this one is started
    once, looks every :data:`TICK` seconds at the job in hand (:meth:`watch`), and beats every
    ``job_monitoring_interval`` seconds of that job (every second while Redis refuses).
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._beating = threading.Lock()
        """Held during a beat, so no beat for a job is still under way once it was unwatched."""
        self._job: Job | None = None
        self._generation = 0
        self._started = 0.0
        self._due = 0.0
        self._beat = False
        self._thread: threading.Thread | None = None

    def watch(self, job: Job) -> None:
        with self._lock:
            self._job, self._started, self._beat = job, time.monotonic(), False
            self._due = self._started + self.worker.job_monitoring_interval
            self._generation += 1
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
            self._thread.start()

    def unwatch(self) -> bool:
        """Stop beating for the job; True when it beat at least once (its working time was written)."""
        with self._lock:
            self._job = None
            self._generation += 1
        with self._beating:
            return self._beat

    def _run(self) -> None:
        while True:
            time.sleep(TICK)
            with self._lock:
                job = self._job
                if job is None or time.monotonic() < self._due:
                    continue
                generation, started = self._generation, self._started
                self._beating.acquire()
                self._beat = True
            next_in = float(self.worker.job_monitoring_interval)
            try:
                self.worker.set_current_job_working_time(time.monotonic() - started)
                self.worker.maintain_heartbeats(job)
            except RedisError:
                # Beat again soon, so the job is not taken for abandoned once Redis is back.
                log.warning("heartbeat for job %s failed; will retry", job.id, exc_info=True)
                next_in = 1.0
            except Exception:
                log.exception("heartbeat for job %s failed", job.id)
            finally:
                with self._lock:
                    if self._generation == generation:
                        self._due = time.monotonic() + next_in
                self._beating.release()


class LeanWorker(GracefulWorker):
    """RQ's worker minus the round trips a storm of short jobs paid for nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._state_written: str | None = None
        self._preparing: Pipeline | None = None
        super().__init__(*args, **kwargs)

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's, with its writes left in a pipeline that :meth:`prepare_job_execution` sends along
        with its own: one round trip instead of two before every job."""
        pipe = self.connection.pipeline()
        self.execution = Execution.create(
            job, self.get_heartbeat_ttl(job), pipeline=pipe, worker_name=self.name
        )
        self.set_state(WorkerStatus.BUSY, pipeline=pipe)
        self._preparing = pipe
        return self.execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        pipeline, self._preparing = self._preparing or self.connection.pipeline(), None
        try:
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            if remove_from_intermediate_queue:
                queue = Queue(job.origin, connection=self.connection)
                pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
            pipeline.execute()
        finally:
            pipeline.reset()
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")

    def ended_fresh(self, job: Job, heartbeat: float) -> bool:
        """At a successful job's end, RQ beats once more for the success callbacks to come; a job
        that started less than ``heartbeat`` seconds ago is fresh anyway, and ours have none.
        True when the beat was skipped (the job's end time is set)."""
        if job.started_at is None or (now() - job.started_at).total_seconds() >= heartbeat:
            return False
        job.ended_at = now()
        return True

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is None and state in (WorkerStatus.IDLE, self._state_written):
            # Idle between two jobs of a storm is not worth a round trip per job: the next
            # heartbeat that goes out (at most a second later, or once the queues stay empty
            # for a dequeue's wait) writes it.
            self._state = state
            return
        super().set_state(state, pipeline=pipeline)
        self._state_written = state if pipeline is None else None

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        """RQ's, without its WATCH on the job's dependents (a round trip per job): the responder
        never queues a job that depends on another."""
        assert job.started_at is not None and job.ended_at is not None
        with self.connection.pipeline() as pipeline:
            pipeline.multi()
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
            if result_ttl != 0:
                execution = self.execution
                job._handle_success(
                    result_ttl,
                    pipeline=pipeline,
                    worker_name=self.name,
                    execution_id=execution.id if execution else None,
                    execution_started_at=execution.created_at if execution else None,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.execute()
        log.debug("Successfully completed job %s in %ss", job.id, job.ended_at - job.started_at)
