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
"""

from __future__ import annotations

import math
import os
import signal
import time
from types import FrameType

from rq.timeouts import UnixSignalDeathPenalty

from responder.errors import ShutdownGraceOver

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
