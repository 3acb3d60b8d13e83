"""What workers do between jobs besides RQ's own clean-up, each at most as often as it needs:
close and delete incidents past their retention, re-queue lost work, keep the heartbeat's
checks going, send the daily digest.

Called from :meth:`responder.worker.ResponderWorker.run_maintenance_tasks`. A Redis error
goes up to it (the maintenance pass waits for Redis); any other failure is logged and
left for the next pass, so a bug in one duty never stops a worker.
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import StopRequested

from responder import orphans
from responder.incidents import heartbeat, retention
from responder.report import digest
from responder.runtime import current
from responder.store import incidents
from responder.store.keys import Keys

log = logging.getLogger(__name__)

RETENTION_EVERY = 3600
"""Seconds between retention sweeps, across all workers."""


def sweep_retention(redis: Redis, keys: Keys) -> None:
    """At most once an hour across all workers: close open incidents idle past their retention
    (``RESPONDER_OPEN_RETENTION``), delete resolved incidents past theirs (30 days)."""
    if not redis.set(keys.retention_lock, 1, nx=True, ex=RETENTION_EVERY):
        return
    try:
        rt = current()  # the jobs' runtime: its clock, config and scheduler
        closed = retention.sweep_open(rt)
        if closed:
            log.info("retention: closed %d idle open incidents: %s", len(closed), closed)
        removed = incidents.sweep(redis, keys, rt.clock())
    except RedisError:
        raise
    except Exception:
        log.exception("retention sweep failed")
        return
    if removed:
        log.info("retention: removed %d resolved incidents older than 30 days", removed)


def sweep_orphans() -> None:
    """Queue again accepted batches and running steps whose job was lost (:mod:`responder.orphans`)."""
    try:
        orphans.sweep(current())
    except (RedisError, StopRequested):  # StopRequested: SIGTERM's handler raised it in this thread
        raise
    except Exception:
        log.exception("orphan sweep failed")


def ensure_heartbeat_check() -> None:
    """Start the heartbeat's checks when none is due (the first start, or one lost with Redis)."""
    try:
        heartbeat.ensure_check(current())
    except RedisError:
        raise
    except Exception:
        log.exception("heartbeat check could not be scheduled")


def send_digest() -> None:
    """The daily digest when a slot is due; each slot is sent by one worker (report/digest.py)."""
    try:
        sent = digest.maybe_send(current())
    except RedisError:
        raise
    except Exception:
        log.exception("digest failed")
        return
    if sent:
        log.info("digest sent")
