"""A bounded warm shutdown: on SIGTERM a worker finishes its job, or hands it back after a grace.

RQ's warm shutdown waits for the job in hand however long it runs, and a step may run
for minutes (``kubernetes.wait_rollout``); Kubernetes kills the pod after its
``terminationGracePeriodSeconds`` and the job is then found abandoned only later. Here
the job may finish within :func:`grace` seconds (``RESPONDER_SHUTDOWN_GRACE``, default
20, for the Deployment's 30 s), and past that it is interrupted and put back at the head
of its queue, where another worker picks it up at once.

The interruption rides on RQ's job timeout, a SIGALRM in the job's thread: the alarm is
brought forward to the end of the grace, and when it fires after a shutdown request the
job gets :class:`~responder.errors.ShutdownGraceOver` (not the timeout, which would count
as a failed attempt). One process runs one worker, so the deadline is process state.
:class:`GracefulWorker` is the worker side: its SIGTERM handler only sets flags, and
leaving RQ's command channel does not wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import time
from types import FrameType
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import StopRequested
from rq.timeouts import UnixSignalDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from responder.errors import ShutdownGraceOver
from responder.worker_scheduler import ThreadSchedulingWorker

log = logging.getLogger(__name__)

DEFAULT_GRACE = 20.0

_deadline: float | None = None
"""Monotonic time at which a job still running is handed back; None until a shutdown is requested."""


def grace() -> float:
    """Seconds a job may still run after SIGTERM (``RESPONDER_SHUTDOWN_GRACE``)."""
    raw = os.environ.get("RESPONDER_SHUTDOWN_GRACE", "")
    try:
        return max(float(raw), 1.0) if raw else DEFAULT_GRACE
    except ValueError:
        return DEFAULT_GRACE


def begin(seconds: float | None = None) -> None:
    """A shutdown was requested: a job running now (or started from now on) stops within the grace."""
    global _deadline
    seconds = grace() if seconds is None else seconds
    if _deadline is None:
        _deadline = time.monotonic() + seconds
    # An alarm is set only while a job (or one of its callbacks) runs under RQ's death penalty,
    # whose handler is then installed; with none set there is nothing to bring forward.
    left = signal.alarm(0)
    if left:
        signal.alarm(min(left, _whole_seconds_left()))


def reset() -> None:
    """Forget a shutdown request (a new worker in the same process, or a test)."""
    global _deadline
    _deadline = None


def _whole_seconds_left() -> int:
    assert _deadline is not None
    return max(1, math.ceil(_deadline - time.monotonic()))


def over() -> bool:
    return _deadline is not None and time.monotonic() >= _deadline - 0.5


class GraceDeathPenalty(UnixSignalDeathPenalty):
    """RQ's job timeout, cut short by a shutdown request (see the module docstring)."""

    def setup_death_penalty(self) -> None:
        signal.signal(signal.SIGALRM, self.handle_death_penalty)
        timeout = int(self._timeout)
        if _deadline is not None:
            timeout = min(timeout, _whole_seconds_left()) if timeout > 0 else _whole_seconds_left()
        signal.alarm(timeout)

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        if over():
            raise ShutdownGraceOver(f"the worker is shutting down and its {grace():g} s grace is over")
        super().handle_death_penalty(signum, frame)


class GracefulWorker(ThreadSchedulingWorker):
    """An RQ worker whose shutdown is bounded: see the module docstring."""

    death_penalty_class = GraceDeathPenalty

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stopping = False
        """Set by SIGTERM (or SIGINT); the worker takes no new job."""
        super().__init__(*args, **kwargs)

    def unsubscribe(self) -> None:
        """Stop RQ's command channel without waiting for it.

        redis-py's pub/sub thread polls for up to 60 s at a time, and its ``stop()`` waits for
        it: RQ's own unsubscribe could hold a stopping worker for a minute, past Kubernetes'
        grace. The thread is a daemon; it ends at its next wake, or with the process.
        """
        thread = self.pubsub_thread
        if thread is None:
            return
        log.info("Worker %s: leaving channel %s", self.name, self.pubsub_channel_name)
        try:
            thread.stop(timeout=0)
        except TypeError:  # redis-py before 8: stop() takes no timeout and does not wait
            thread.stop()

    def register_death(self) -> None:
        with contextlib.suppress(RedisError):  # the worker's key expires by itself (worker_ttl + 60 s)
            super().register_death()

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM: a warm shutdown, as RQ's, minus the Redis calls and the joins RQ makes here.

        A signal handler runs wherever the main thread happens to be, perhaps inside the Redis
        client; so it only sets flags. The scheduler is stopped on the way out (teardown), and
        an idle worker also stops at its next turn of :meth:`dequeue_job_and_maintain_ttl`
        should an except clause somewhere swallow the StopRequested raised here.
        """
        self.stopping = True
        self._stop_requested = True
        self._shutdown_requested_date = now()
        begin()
        signal.signal(signal.SIGINT, self.request_force_stop)
        signal.signal(signal.SIGTERM, self.request_force_stop)
        self.handle_warm_shutdown_request()
        if self.get_state() != WorkerStatus.BUSY:
            raise StopRequested()
