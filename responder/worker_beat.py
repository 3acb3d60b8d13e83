"""The heartbeat of the job a worker has in hand, from one thread per worker.

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

from redis.exceptions import RedisError
from rq.job import Job
from rq.worker.base import BaseWorker

log = logging.getLogger(__name__)


class JobBeater:
    """Heartbeats for the job in hand while it runs, from one thread that lives as long as the worker.

    RQ's forking worker heartbeats from the parent while the child works; in-process we need
    a thread. Starting one per job cost every job of a storm a thread start and join; this one
    is started once, told which job runs (:meth:`watch`), and beats every
    ``job_monitoring_interval`` seconds of that job (every second while Redis refuses).
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._beating = threading.Lock()
        """Held during a beat, so no beat for a job is still under way once it was unwatched."""
        self._job: Job | None = None
        self._generation = 0
        self._started = 0.0
        self._beat = False
        self._thread: threading.Thread | None = None

    def watch(self, job: Job) -> None:
        with self._lock:
            self._job, self._started, self._beat = job, time.monotonic(), False
            self._generation += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
                self._thread.start()
            self._wake.notify()

    def unwatch(self) -> bool:
        """Stop beating for the job; True when it beat at least once (its working time was written)."""
        with self._lock:
            self._job = None
            self._generation += 1
            self._wake.notify()
        with self._beating:
            return self._beat

    def _run(self) -> None:
        wait = float(self.worker.job_monitoring_interval)
        while True:
            with self._lock:
                while self._job is None:
                    self._wake.wait()
                job, generation, started = self._job, self._generation, self._started
                due = time.monotonic() + wait
                while self._generation == generation and time.monotonic() < due:
                    self._wake.wait(due - time.monotonic())
                if self._generation != generation:
                    wait = float(self.worker.job_monitoring_interval)
                    continue  # that job ended before its next beat
                self._beating.acquire()
                self._beat = True
            try:
                self.worker.set_current_job_working_time(time.monotonic() - started)
                self.worker.maintain_heartbeats(job)
                wait = float(self.worker.job_monitoring_interval)
            except RedisError:
                # Beat again soon, so the job is not taken for abandoned once Redis is back.
                log.warning("heartbeat for job %s failed; will retry", job.id, exc_info=True)
                wait = 1.0
            except Exception:
                log.exception("heartbeat for job %s failed", job.id)
            finally:
                self._beating.release()
