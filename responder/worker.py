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
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE, RQScheduler
from rq.utils import now, utcparse

from responder import jobs  # noqa: F401 - RQ would import the job functions on the first job; do it now
from responder.actions import kubernetes
from responder.errors import ResponderError
from responder.incidents import retention
from responder.report import digest
from responder.runtime import Runtime, current
from responder.scheduling import LANES, Lane, queue_names
from responder.store import incidents
from responder.store.codec import text
from responder.store.keys import Keys

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


STALE_SCHEDULER = 10
"""A scheduler whose heartbeat (every second) is older than this is dead; its lock is released
so a live worker's scheduler takes over. RQ itself would wait for the lock's 61 s TTL."""

RELOCK = 10
"""Seconds after which a scheduler holding only some lanes' locks tries for the others again
(RQ waits 120 s): after a scheduler dies, its lanes' timers move on within seconds."""

_RELEASE_IF_HELD_BY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LaneScheduler(RQScheduler):
    """RQ's scheduler, retrying the locks it lacks every :data:`RELOCK` seconds."""

    @property
    def should_reacquire_locks(self) -> bool:
        if self._queue_names == self.acquired_locks:
            return False
        if not self.lock_acquisition_time:
            return True
        return (datetime.now() - self.lock_acquisition_time).total_seconds() > RELOCK


class ResponderWorker(SimpleWorker):
    responder_keys: Keys = Keys()

    @property
    def scheduled_queue_names(self) -> list[str]:
        """Every queue whose due jobs this worker's scheduler moves: all lanes, whatever it serves,
        and the queue of the version before lanes."""
        return [*queue_names(self.responder_keys), self.responder_keys.queue_name]

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        # As RQ's, over every lane's queue instead of only this worker's.
        self.scheduler = LaneScheduler(
            self.scheduled_queue_names,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return  # another worker's scheduler has them; maintenance tries again
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def execute_job(self, job: Job, queue: Queue) -> None:
        stop = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not stop.wait(self.job_monitoring_interval):
                self.set_current_job_working_time(time.monotonic() - started)
                try:
                    self.maintain_heartbeats(job)
                except RedisError:
                    log.warning("heartbeat for job %s failed; will retry", job.id, exc_info=True)

        heart = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        heart.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            heart.join()
            self.set_current_job_working_time(0)

    def run_maintenance_tasks(self) -> None:
        self.release_dead_scheduler_locks()
        self.sweep_retention()
        self.send_digest()
        super().run_maintenance_tasks()

    def send_digest(self) -> None:
        """The daily digest when a slot is due; each slot is sent by one worker (report/digest.py)."""
        try:
            sent = digest.maybe_send(current())
        except RedisError:
            log.warning("digest: Redis is unreachable; the next maintenance tries again", exc_info=True)
            return
        if sent:
            log.info("digest sent")

    def sweep_retention(self) -> None:
        """At most once an hour across all workers: close open incidents idle past their retention
        (``RESPONDER_OPEN_RETENTION``), delete resolved incidents past theirs (30 days)."""
        keys = self.responder_keys
        if self.connection.set(keys.retention_lock, 1, nx=True, ex=3600):
            try:
                rt = current()  # the jobs' runtime: its clock, config and scheduler
                closed = retention.sweep_open(rt)
                if closed:
                    log.info("retention: closed %d idle open incidents: %s", len(closed), closed)
                removed = incidents.sweep(self.connection, keys, rt.clock())
            except Exception:  # a sweep that fails must not stop the worker; the next one is in an hour
                log.exception("retention sweep failed")
                return
            if removed:
                log.info("retention: removed %d resolved incidents older than 30 days", removed)

    def release_dead_scheduler_locks(self) -> None:
        for queue_name in self.scheduled_queue_names:
            lock_key = SCHEDULER_LOCKING_KEY_TEMPLATE % queue_name
            holder = self.connection.get(lock_key)
            if holder is None:
                continue
            name = text(holder)
            if self.scheduler is not None and name == self.scheduler.name:
                continue
            beat = self.connection.hget(SCHEDULER_KEY_TEMPLATE % name, "last_heartbeat")
            age = (now() - utcparse(text(beat))).total_seconds() if beat else None
            stale = age is None or age > STALE_SCHEDULER
            if stale and self.connection.eval(_RELEASE_IF_HELD_BY, 1, lock_key, name):
                log.warning("scheduler %s stopped heartbeating; released its lock for %s", name, queue_name)

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


def run(
    runtime: Runtime, *, burst: bool = False, with_scheduler: bool = True, lanes: tuple[Lane, ...] = LANES
) -> bool:
    """Serve ``lanes`` in order until stopped (or, with ``burst``, until their queues are empty)."""
    worker = build_worker(runtime.redis, runtime.keys, lanes=lanes)
    _load_kubernetes_client(runtime)
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")


def _load_kubernetes_client(runtime: Runtime) -> None:
    """Load the Kubernetes credentials once, before the first job, so no step waits for them."""
    try:
        kubernetes.load_client(runtime.config.responder.kubernetes.context)
    except ResponderError as exc:  # no credentials: kubernetes.* steps fail with this message if they run
        log.info("Kubernetes client not loaded: %s", exc)
    except Exception:  # e.g. a malformed kubeconfig; steps that need it will report it
        log.warning("Kubernetes client not loaded", exc_info=True)
