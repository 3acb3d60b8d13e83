"""The RQ worker, tuned for an incident responder.

RQ's defaults suit batch work: a dead worker's job is noticed after its heartbeat
expires (at least 60 s) and found by maintenance every 10 minutes, and a scheduler
whose worker died is replaced after minutes. An on-call engineer cannot wait that
long, so ours heartbeats every few seconds and cleans up every ``maintenance``
seconds; a step on a killed worker resumes on another within ~30 s.

Jobs run in the worker process itself (RQ's ``SimpleWorker``), not in a fork per job:
a fork costs every job a cold start (fork, RQ set-up, inherited state rebuilt), which
measured as most of the alert-to-action latency and made escalation timers queue
seconds late under load (docs/benchmarks.md). Job timeouts still hold (RQ's SIGALRM
runs in this main thread); a thread keeps the heartbeats going while a job runs, as
the forking worker's parent would. What is given up is the fork's isolation: a job
that crashes the interpreter takes the worker with it, and the job is then retried
as abandoned, like any job of a dead worker.

Lanes: a worker serves the queues of its lanes in strict order (RQ's default dequeue
strategy pops the first non-empty queue of its list; see :mod:`responder.scheduling`).
Its scheduler, though, moves due jobs (timers, retries) of *every* lane, whatever lanes
the worker serves: RQ's own would watch only the worker's queues, and a step's retry
would then wait for a general worker's scheduler while a control-only worker's ran.

Redis going away (a restart, a Sentinel failover) stops no worker. RQ quits its work
loop on the first Redis error it does not expect, and a job whose Redis calls fail
would be recorded as failed (or, as the recording fails too, take the worker down).
Here a job that loses Redis is not the job's failure: the worker waits for Redis and
hands the job back to the head of its queue (:meth:`ResponderWorker.execute_job`);
heartbeats, maintenance and the suspension check ride out the outage; RQ's scheduler
runs as a thread on the worker's own client (:mod:`responder.worker_scheduler`), so it
follows a failover too; and :func:`run` starts a fresh worker if the loop ends anyway.
After an outage, abandoned-job recovery waits one heartbeat window, so a job whose
worker is alive but could not heartbeat meanwhile is not taken for abandoned.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import Job
from rq.utils import now

from responder import (
    jobs,  # noqa: F401 - RQ would import the job functions on the first job; do it now
    orphans,
    worker_health,
)
from responder import worker_duties as duties
from responder.actions import kubernetes
from responder.errors import JobHandedBack, ResponderError, ShutdownGraceOver
from responder.runtime import Runtime
from responder.scheduling import LANES, Lane, queue_names
from responder.store import connection
from responder.store.codec import text
from responder.store.keys import Keys
from responder.worker_lean import JobBeater, LeanWorker

log = logging.getLogger(__name__)

HEARTBEAT = 5
"""Seconds between heartbeats while a job runs (RQ's job_monitoring_interval)."""
ABANDON_AFTER = 15
"""A job whose worker has not heartbeaten for this long is abandoned and retried."""
MAINTENANCE = 10
"""Seconds between registry clean-ups and scheduler take-over attempts (RQ's default is 600)."""
WORKER_TTL = 20
"""An idle worker wakes every WORKER_TTL - 15 seconds (RQ blocks in BLPOP for that long), so
maintenance can run on time; RQ's default of 420 s would leave a dead worker's job for minutes."""


BOOKKEEPING_EVERY = 1.0
"""Between jobs, RQ heartbeats the worker twice per job (two round trips each) and asks Redis
whether workers are suspended once; a storm of short jobs paid that for every job. Ours does
each at most this often (seconds): the worker's key lives for ``WORKER_TTL`` + 60 s, and
``rq suspend`` still holds a worker within a second."""


RECONNECT_CAP = 2.0
"""Longest pause between attempts while Redis is unreachable (each attempt has its own retries)."""
MAX_HAND_BACKS = 20
"""A job handed back this often is left to RQ's failure handling (a livelock guard)."""
_HAND_BACKS = "responder_hand_backs"


class ResponderWorker(LeanWorker):
    responder_keys: Keys = Keys()

    @property
    def scheduled_queue_names(self) -> list[str]:
        """Every queue whose due jobs this worker's scheduler moves: all lanes, whatever it serves,
        and the queue of the version before lanes."""
        return [*queue_names(self.responder_keys), self.responder_keys.queue_name]

    max_connection_wait_time = RECONNECT_CAP  # RQ's dequeue backoff: its 60 s would idle on after an outage

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.alive_at: float | None = None
        """Monotonic time of the last heartbeat attempt (``/health``), whether Redis answered or not."""
        self._down_since: float | None = None
        self._quiet_until = 0.0
        self._beat_at = -BOOKKEEPING_EVERY
        self._suspension_checked_at = -BOOKKEEPING_EVERY
        self._beater = JobBeater(self)
        super().__init__(*args, **kwargs)

    # -- a job, and Redis going away during it -------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        self._beater.watch(job)
        try:
            super().execute_job(job, queue)
        except JobHandedBack as exc:
            self._hand_back(job, queue, str(exc))
        except RedisError as exc:
            if not connection.unavailable(exc):
                raise
            # Before the job ran (registering it) or after (recording that it is idle).
            self._hand_back(job, queue, f"Redis unavailable ({type(exc).__name__})")
        finally:
            if self._beater.unwatch():
                self.set_current_job_working_time(0)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """Called first when a job returns or raises; a raise that is not the job's failure stops here."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ShutdownGraceOver) or (isinstance(exc, SystemExit) and self.stopping):
            # The grace ran out, or a second SIGTERM asked for a cold shutdown: not the job's failure.
            raise JobHandedBack(str(exc) or "cold shutdown") from exc
        if exc is not None and connection.unavailable(exc) and job.meta.get(_HAND_BACKS, 0) < MAX_HAND_BACKS:
            raise JobHandedBack(f"Redis unavailable mid-job ({type(exc).__name__}: {exc})") from exc
        if exc is None and self.ended_fresh(job, HEARTBEAT):
            return  # no last beat for a fresh job (a round trip per job saved)
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def _hand_back(self, job: Job, queue: Queue, why: str) -> None:
        """Put ``job`` back at the head of its queue, unless it is done or already back somewhere.

        Waits for Redis first. A worker told to stop while Redis is still down leaves the job
        where it is: once Redis is back, abandoned-job recovery (or the orphan sweep) takes it.
        """
        if not self._wait_for_redis():
            log.warning("job %s: Redis still down at shutdown; leaving it to abandoned-job recovery", job.id)
            return
        self._beater.unwatch()
        execution = self.execution
        started = queue.started_job_registry.key
        scheduled = queue.scheduled_job_registry.key
        requeued = False

        def reconcile(pipe: Pipeline) -> None:
            nonlocal requeued
            status = pipe.hget(job.key, "status")
            done = status is not None and text(status) in orphans.DONE
            elsewhere = pipe.lpos(queue.key, job.id) is not None or pipe.zscore(scheduled, job.id) is not None
            pipe.multi()
            if execution is not None:
                self.cleanup_execution(job, pipeline=pipe)
            requeued = not done and not elsewhere
            if requeued:
                job.meta[_HAND_BACKS] = int(job.meta.get(_HAND_BACKS, 0)) + 1
                queue._enqueue_job(job, pipeline=pipe, at_front=True)

        self.connection.transaction(reconcile, job.key, started, queue.key, scheduled)
        self.execution = None
        if requeued:
            log.warning("job %s handed back to %s: %s", job.id, queue.name, why)
        else:
            log.info("job %s not handed back (%s): it is done or queued again already", job.id, why)

    def _wait_for_redis(self) -> bool:
        """Block until Redis answers a PING; False if a stop was requested while it did not."""
        wait = 0.25
        while True:
            self.alive_at = time.monotonic()
            try:
                self.connection.ping()
            except RedisError as exc:
                if not connection.unavailable(exc):
                    raise
                self._note_outage(exc)
                if self.stopping:
                    return False
                time.sleep(wait)
                wait = min(wait * 2, RECONNECT_CAP)
                continue
            self._note_recovered()
            return True

    def _note_outage(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Redis unavailable (%s: %s); carrying on once it answers", type(exc).__name__, exc)

    def _note_recovered(self) -> None:
        if self._down_since is not None:
            log.warning("Redis answers again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
            # Give live jobs one heartbeat window to show they are alive before recovery calls them abandoned.
            self._quiet_until = time.monotonic() + ABANDON_AFTER

    # -- the loop around jobs, riding out an outage ------------------------------------------------------

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        self.alive_at = time.monotonic()
        if pipeline is not None:  # part of a job's heartbeat (its thread) or of its set-up
            super().heartbeat(timeout, pipeline=pipeline)
            return
        recent = self.alive_at - self._beat_at < BOOKKEEPING_EVERY
        if timeout is None and recent and self._down_since is None:
            return  # between two jobs of a storm: the last beat is fresh
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                super().heartbeat(timeout, pipeline=pipe)
                if self._state_written != self._state:
                    pipe.hset(self.key, "state", self._state)  # an idle state not yet written
                pipe.execute()
            self._state_written = self._state
        except RedisError as exc:
            if not connection.unavailable(exc):
                raise
            self._note_outage(exc)
            return
        self._beat_at = time.monotonic()
        self._note_recovered()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        while not self.stopping:
            try:
                if timeout is None or max_idle_time is not None:
                    return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
                # RQ's loop waits for a job for as long as it takes, never looking at the stop flag;
                # in turns of one BLPOP it does, so a stop that RQ's exception did not deliver holds.
                got = super().dequeue_job_and_maintain_ttl(timeout, self.dequeue_timeout)
                if got is not None:
                    return got
            except RedisError as exc:  # RQ itself retries a refused connection, not a timeout
                if not connection.unavailable(exc):
                    raise
                if not self._wait_for_redis():
                    raise StopRequested() from exc
        return None  # the work loop ends on None

    def check_for_suspension(self, burst: bool) -> None:
        checked = time.monotonic()
        if checked - self._suspension_checked_at < BOOKKEEPING_EVERY:
            return
        self._suspension_checked_at = checked
        try:
            super().check_for_suspension(burst)
        except RedisError as exc:
            if not connection.unavailable(exc):
                raise
            self._note_outage(exc)  # the dequeue that follows waits for Redis

    # -- maintenance -------------------------------------------------------------------------------------

    def run_maintenance_tasks(self) -> None:
        try:
            self.release_dead_scheduler_locks()
            duties.sweep_retention(self.connection, self.responder_keys)
            duties.sweep_orphans()
            duties.ensure_heartbeat_check()
            duties.send_digest()
            if time.monotonic() < self._quiet_until:
                self._cleaned_now()  # abandoned-job recovery waits (see _note_recovered)
                return
            super().run_maintenance_tasks()
        except RedisError as exc:
            if not connection.unavailable(exc):
                raise
            self._note_outage(exc)
            self._cleaned_now()  # try again at the next interval, not at every turn of the loop

    def _cleaned_now(self) -> None:
        self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ types it as None until set

    def get_heartbeat_ttl(self, job: Job) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + ABANDON_AFTER
        return int(self.job_monitoring_interval) + ABANDON_AFTER


def worker_queues(redis: Redis, keys: Keys, lanes: tuple[Lane, ...] = LANES) -> list[Queue]:
    """The queues a worker serving ``lanes`` listens on, in serving order.

    A worker serving the last lane also drains the queue of the version before lanes, last.
    """
    names = queue_names(keys, lanes)
    if LANES[-1] in lanes:
        names.append(keys.queue_name)
    return [Queue(name, connection=redis) for name in names]


def build_worker(
    redis: Redis, keys: Keys, *, name: str | None = None, lanes: tuple[Lane, ...] = LANES
) -> ResponderWorker:
    worker = ResponderWorker(
        worker_queues(redis, keys, lanes),
        connection=redis,
        name=name,
        job_monitoring_interval=HEARTBEAT,
        worker_ttl=WORKER_TTL,
        maintenance_interval=int(os.environ.get("RESPONDER_MAINTENANCE_INTERVAL", MAINTENANCE)),
    )
    worker.responder_keys = keys
    return worker


@dataclass
class _Current:
    worker: ResponderWorker | None = None

    def alive_at(self) -> float | None:
        return self.worker.alive_at if self.worker is not None else None


def run(
    runtime: Runtime,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    lanes: tuple[Lane, ...] = LANES,
    health_port: int | None = None,
) -> bool:
    """Serve ``lanes`` in order until stopped (or, with ``burst``, until their queues are empty).

    Redis unreachable at start, or a work loop that ends without a stop request, means a
    fresh worker once Redis answers: the process never exits on its own.
    """
    _load_kubernetes_client(runtime)
    current = _Current()
    server = None
    if health_port is not None:
        probe = connection.connect(patience=connection.PROBE)
        server = worker_health.serve(health_port, worker_health.Probes(current.alive_at, probe))
    signal.signal(signal.SIGTERM, _stop)  # until a worker's loop installs RQ's handlers
    signal.signal(signal.SIGINT, _stop)
    wait = 0.25
    try:
        while True:
            try:
                worker = current.worker = build_worker(runtime.redis, runtime.keys, lanes=lanes)
                worked = worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")
                if burst or worker.stopping:
                    return worked
                log.error("the worker loop ended without a stop request; starting a new worker")
            except StopRequested:
                return False
            except RedisError as exc:
                if not connection.unavailable(exc):
                    raise
                name = type(exc).__name__
                log.warning("Redis unavailable (%s: %s); starting the worker once it answers", name, exc)
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_CAP)
    except StopRequested:
        return False
    finally:
        if server is not None:
            server.shutdown()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested()


def _load_kubernetes_client(runtime: Runtime) -> None:
    """Load the Kubernetes credentials once, before the first job, so no step waits for them."""
    try:
        kubernetes.load_client(runtime.config.responder.kubernetes.context)
    except ResponderError as exc:  # no credentials: kubernetes.* steps fail with this message if they run
        log.info("Kubernetes client not loaded: %s", exc)
    except Exception:  # e.g. a malformed kubeconfig; steps that need it will report it
        log.warning("Kubernetes client not loaded", exc_info=True)
