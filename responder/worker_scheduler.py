"""RQ's scheduler (due timers and retries onto their queues), run as a thread of the worker.

RQ runs its scheduler in a forked process that rebuilds its Redis client from the
worker's connection kwargs. That loses a Sentinel-managed pool (rq issue 2379: the
child gets a plain pool, or fails on the Sentinel kwargs), so after a failover the
scheduler would keep talking to the old primary or die; and when Redis goes away the
process exits and is restarted only at the worker's next maintenance pass.

Ours is RQ's own scheduler class, with its locking, heartbeat and hand-over intact, run
in a thread on the worker's own client: it follows a failover exactly as the worker
does (same pool, same Sentinel), and when Redis is unreachable it waits and starts
again by itself within a second or two of Redis answering, instead of exiting.
:class:`ThreadSchedulingWorker` is the worker side: it starts and stops that thread, and
frees the lock of a scheduler that stopped heartbeating so a live one takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE, RQScheduler
from rq.utils import now, utcparse

from responder.store.codec import text

log = logging.getLogger(__name__)

BACKOFF_CAP = 2.0
"""Longest wait between attempts while Redis is unreachable."""
STEADY_AFTER = 10.0
"""A scheduler that ran this long before failing starts again at the shortest wait."""
RELOCK = 10
"""Seconds after which a scheduler holding only some queues' locks tries for the others again
(RQ waits 120 s): after a scheduler dies, its lanes' timers move on within seconds."""
STALE_SCHEDULER = 10
"""A scheduler whose heartbeat (every second) is older than this is dead; its lock is released
so a live worker's scheduler takes over. RQ itself would wait for the lock's 61 s TTL."""

_RELEASE_IF_HELD_BY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ThreadScheduler(RQScheduler):
    """RQ's scheduler on the worker's client, in a thread that outlives Redis outages."""

    def __init__(self, queues: Any, connection: Redis, **kwargs: Any) -> None:
        super().__init__(queues, connection=connection, **kwargs)
        # RQ's ``connection`` property returns this client as it is (RQ types the attribute as None).
        self._connection = connection  # type: ignore[assignment]
        self._wake = threading.Event()

    @property
    def should_reacquire_locks(self) -> bool:
        if self._queue_names == self.acquired_locks:
            return False
        if not self.lock_acquisition_time:
            return True
        return (datetime.now() - self.lock_acquisition_time).total_seconds() > RELOCK

    def try_locks_next_turn(self) -> None:
        """Try for the locks this scheduler lacks on its next turn (a second), not RELOCK seconds after
        its last try: a lock was just freed, and the dead holder's due timers should move now."""
        self.lock_acquisition_time = None

    def start(self) -> threading.Thread:
        self._stop_requested = False
        self._status = self.Status.STARTED
        thread = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)
        # RQ's worker restarts a scheduler whose ``_process`` is not alive; a thread answers is_alive too.
        self._process = thread  # type: ignore[assignment]
        thread.start()
        return thread

    def _install_signal_handlers(self) -> None:
        """The worker's main thread owns the signals; it stops this thread with :meth:`request_stop`."""

    def request_stop(self, signum: Any = None, frame: Any = None) -> None:
        self._stop_requested = True
        self._wake.set()

    def join(self, timeout: float) -> None:
        thread = self._process
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        wait = 0.5
        while not self._stop_requested:
            began = time.monotonic()
            try:
                self.work()
                return  # stopped on request
            except RedisError as exc:
                if time.monotonic() - began > STEADY_AFTER:
                    wait = 0.5
                name = type(exc).__name__
                log.warning("scheduler lost Redis (%s: %s); starting again in %.1f s", name, exc, wait)
            except Exception:
                log.exception("scheduler failed; starting again in %.1f s", wait)
            self._wake.wait(wait)
            wait = min(wait * 2, BACKOFF_CAP)
        self._release_quietly()

    def _release_quietly(self) -> None:
        try:
            self.release_locks()
            self.register_death()
        except RedisError:
            pass  # the lock expires by itself; a live worker takes over once it has


class ThreadSchedulingWorker(SimpleWorker):
    """An RQ worker whose scheduler is a :class:`ThreadScheduler`, and whose maintenance frees the
    lock of a scheduler that stopped heartbeating (so a live one takes over within seconds)."""

    @property
    def scheduled_queue_names(self) -> list[str]:
        """The queues whose due jobs this worker's scheduler moves (RQ's: the worker's own)."""
        return [queue.name for queue in self.queues]

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = "%H:%M:%S",
        log_format: str = "%(asctime)s %(message)s",
    ) -> None:
        scheduler = ThreadScheduler(
            self.scheduled_queue_names,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler = scheduler
        scheduler.acquire_locks()
        if not scheduler.acquired_locks:
            return
        if burst:
            try:
                scheduler.register_birth()
                scheduler.enqueue_scheduled_jobs()
            finally:
                scheduler.release_locks()
                scheduler.register_death()
        else:
            scheduler.start()

    def stop_scheduler(self) -> None:
        scheduler = self.scheduler
        if isinstance(scheduler, ThreadScheduler):
            scheduler.request_stop()
            scheduler.join(timeout=5)

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
                if isinstance(self.scheduler, ThreadScheduler):
                    # One not running is started by RQ's maintenance, which follows.
                    self.scheduler.try_locks_next_turn()
