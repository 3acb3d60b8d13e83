"""Finding accepted work whose job was lost, and queueing it again.

An accepted webhook batch and a running playbook step each have an RQ job that is, at
any moment, in a queue, being run (RQ's started registry), waiting (scheduled), or done.
One instant escapes that: a worker has popped the job id off its queue and not yet
registered it as started. If Redis dies right then (a crash, a failover that loses the
last writes), or the worker does, the job is in no queue and no registry, and nothing
would ever run it: an alert answered 200 would be lost.

The sweep looks for exactly that. It runs in the workers' maintenance, one worker at a
time (a Redis lock), over the batches still pending (``keys.pending_batches``) and the
runs with a queued step (``keys.active_runs``). Work found in no queue and no registry
is only a suspect the first time; found so again at least :data:`GRACE` seconds later
(the pop-to-register instant takes milliseconds), its job is queued again. That is
safe because both kinds of job are idempotent on re-delivery: a batch applies each
alert once (an alert already applied is skipped), and a step job does nothing when its
run has moved past it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from responder.playbooks.runs import step_job
from responder.scheduling import JobSpec, Lane, step_lane
from responder.store import ingest, runs
from responder.store.codec import text
from responder.store.records import RunStatus

if TYPE_CHECKING:
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

EVERY = 5
"""At most one sweep this often (seconds), whichever worker's maintenance comes first."""
GRACE = 5.0
"""Seconds work must stay in no queue and no registry before its job is queued again."""
DONE = frozenset(
    s.value for s in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
)
"""RQ job statuses after which a job will not run again by itself."""


@dataclass(frozen=True)
class Work:
    """One piece of accepted work and the job that should be carrying it."""

    kind: str
    """``batch`` or ``step``."""
    ident: str
    """The batch id, or the run id."""
    job_id: str
    index: int = 0
    """The step (for a step)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}:{self.job_id}"


@dataclass
class _Places:
    """Where jobs are, read once per sweep and queue."""

    redis: Redis
    listed: dict[str, set[str]] = field(default_factory=dict)

    def in_lists(self, origin: str) -> set[str]:
        """Ids in the queue, in its intermediate list (popped by a worker) and in its started registry."""
        if origin not in self.listed:
            queue = Queue(origin, connection=self.redis)
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.lrange(queue.key, 0, -1)
                pipe.lrange(queue.intermediate_queue_key, 0, -1)
                pipe.zrange(queue.started_job_registry.key, 0, -1)
                queued, popped, started = pipe.execute()
            ids = {text(i) for i in (*queued, *popped)}
            # Started entries are "<job id>:<execution id>".
            ids |= {text(entry).rpartition(":")[0] for entry in started}
            self.listed[origin] = ids
        return self.listed[origin]


def sweep(rt: Runtime) -> list[Work]:
    """One sweep, if no other worker swept in the last :data:`EVERY` seconds; returns what it re-queued."""
    if not rt.redis.set(rt.keys.sweep_lock, 1, nx=True, ex=EVERY):
        return []
    return settle(rt, find_orphans(rt), rt.clock())


def find_orphans(rt: Runtime) -> list[Work]:
    """The pending work whose job is in no queue and no registry (and is not done)."""
    orphans: list[Work] = []
    candidates = list(_pending(rt, orphans))
    if not candidates:
        return orphans
    redis = rt.redis
    with redis.pipeline(transaction=False) as pipe:
        for work in candidates:
            pipe.hmget(Job.key_for(work.job_id), ["status", "origin"])
        states = pipe.execute()
    places = _Places(redis)
    unlisted: list[tuple[Work, str]] = []
    for work, (status, origin) in zip(candidates, states, strict=True):
        if status is None:
            orphans.append(work)  # the job itself is gone: nothing can run it
        elif text(status) in DONE:
            drained = work.kind == "batch" and ingest.is_drain_job(rt.keys, work.job_id)
            if drained and text(status) == JobStatus.FINISHED:
                orphans.append(work)  # its drain job ended without finishing it: a write lost in a failover
            else:
                _forget(rt, work)
        elif work.job_id not in places.in_lists(text(origin)):
            unlisted.append((work, text(origin)))
    if unlisted:  # scheduled (a retry's backoff, a timer) or deferred are waiting, not lost
        with redis.pipeline(transaction=False) as pipe:
            for work, origin in unlisted:
                queue = Queue(origin, connection=redis)
                pipe.zscore(queue.scheduled_job_registry.key, work.job_id)
                pipe.zscore(queue.deferred_job_registry.key, work.job_id)
            scores = pipe.execute()
        for i, (work, _) in enumerate(unlisted):
            if scores[2 * i] is None and scores[2 * i + 1] is None:
                orphans.append(work)
    return orphans


def _pending(rt: Runtime, orphans: list[Work]) -> Iterable[Work]:
    """The pending work to look up by its job; batches whose orphans are plain are added to ``orphans``."""
    redis, keys = rt.redis, rt.keys
    batch_ids = [text(b) for b in redis.zrange(keys.pending_batches, 0, -1)]
    if batch_ids:
        # One snapshot: a drain job takes a batch off the list and records it as taken in one script.
        with redis.pipeline(transaction=True) as pipe:
            for batch_id in batch_ids:
                pipe.exists(keys.batch(batch_id))
            pipe.lrange(keys.intake_batches, 0, -1)
            pipe.hgetall(keys.intake_taken)
            pipe.get(keys.intake_drainer)
            *present, listed_raw, taken_raw, mark = pipe.execute()
        gone = [b for b, there in zip(batch_ids, present, strict=True) if not there]
        if gone:
            redis.zrem(keys.pending_batches, *gone)  # processed (or expired)
        listed = {text(b) for b in listed_raw}
        taken = {text(b): text(job) for b, job in taken_raw.items()}
        _forget_taken(rt, [b for b in taken if b in gone or b not in batch_ids])
        alive: set[str] | None = None
        for batch_id, there in zip(batch_ids, present, strict=True):
            if not there:
                continue
            if batch_id in listed:
                # Waiting its turn: lost only if no drain job is queued, running or due to retry.
                alive = _drain_jobs(rt) if alive is None else alive
                if not alive:
                    orphans.append(Work("batch", batch_id, text(mark) if mark is not None else ""))
            elif batch_id in taken:
                yield Work("batch", batch_id, taken[batch_id])  # its drain job is looked up
            else:
                yield Work("batch", batch_id, ingest.batch_job(keys, batch_id).job_id or "")  # an older job
    run_ids = sorted(text(r) for r in redis.smembers(keys.active_runs))
    if not run_ids:
        return
    finished = []
    for run_id, (status, step, job_id) in zip(run_ids, runs.step_jobs(redis, keys, run_ids), strict=True):
        if status is None or RunStatus(status).finished:
            finished.append(run_id)
        elif status == RunStatus.RUNNING and job_id:
            yield Work("step", run_id, job_id, step)
        # awaiting approval: no job until someone approves
    if finished:
        redis.srem(keys.active_runs, *finished)


def _forget_taken(rt: Runtime, batch_ids: list[str]) -> None:
    """Drop the taken records of those ``batch_ids`` whose batch is gone (processed, or expired after
    its drain job failed for good); one accepted since the sweep began reading is still there."""
    if not batch_ids:
        return
    with rt.redis.pipeline(transaction=False) as pipe:
        for batch_id in batch_ids:
            pipe.exists(rt.keys.batch(batch_id))
        present = pipe.execute()
    gone = [b for b, there in zip(batch_ids, present, strict=True) if not there]
    if gone:
        rt.redis.hdel(rt.keys.intake_taken, *gone)


def _drain_jobs(rt: Runtime) -> set[str]:
    """The intake lane's drain jobs that are queued, being taken, running, or waiting out a retry."""
    queue = Queue(rt.keys.lane_queue(Lane.INTAKE), connection=rt.redis)
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.lrange(queue.key, 0, -1)
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        pipe.zrange(queue.started_job_registry.key, 0, -1)
        pipe.zrange(queue.scheduled_job_registry.key, 0, -1)
        pipe.zrange(queue.deferred_job_registry.key, 0, -1)
        queued, popped, started, scheduled, deferred = pipe.execute()
    ids = {text(i) for i in (*queued, *popped, *scheduled, *deferred)}
    ids |= {text(entry).rpartition(":")[0] for entry in started}  # "<job id>:<execution id>"
    return {i for i in ids if ingest.is_drain_job(rt.keys, i)}


def _forget(rt: Runtime, work: Work) -> None:
    """Stop watching a batch whose job is done (failed for good: it is in RQ's failed registry)."""
    if work.kind == "batch":
        rt.redis.zrem(rt.keys.pending_batches, work.ident)


def settle(rt: Runtime, orphans: list[Work], now: float) -> list[Work]:
    """Queue again the orphans that were already suspects :data:`GRACE` seconds ago; suspect the new ones."""
    redis, keys = rt.redis, rt.keys
    suspects = {text(k): float(v) for k, v in redis.hgetall(keys.sweep_suspects).items()}
    current = {work.key: work for work in orphans}
    requeued = []
    with redis.pipeline(transaction=False) as pipe:
        for key in suspects.keys() - current.keys():
            pipe.hdel(keys.sweep_suspects, key)  # it turned up, or is done
        for key, work in current.items():
            if key not in suspects:
                pipe.hset(keys.sweep_suspects, key, now)
            elif now - suspects[key] >= GRACE:
                requeued.append(work)
                pipe.hdel(keys.sweep_suspects, key)
        pipe.expire(keys.sweep_suspects, 3600)
        pipe.execute()
    queued: set[str] = set()
    return [work for work in requeued if _requeue(rt, work, queued)]


def _requeue(rt: Runtime, work: Work, queued: set[str]) -> bool:
    """Queue ``work`` again; ``queued`` holds the jobs this sweep queued already (a drain job carries
    every batch it had taken and the whole intake list, so it is queued once)."""
    redis = rt.redis
    exists = work.job_id and redis.exists(Job.key_for(work.job_id))
    job = Job.fetch(work.job_id, connection=redis) if exists else None
    if job is not None and job.origin:
        # The job itself survived, with its timeout, retries and callbacks: put it back where it was.
        if work.job_id not in queued:
            Queue(job.origin, connection=redis)._enqueue_job(job, at_front=True)
            queued.add(work.job_id)
    elif work.kind == "batch":
        # Back on the intake list, with a fresh drain job (one per sweep) to take it.
        ingest.ensure_drainer(rt, force="" not in queued, put_back=work.ident)
        queued.add("")
    else:
        spec = _step_spec(rt, work)
        if spec is None:
            log.error("run %s: its step %d job was lost and its playbook is gone", work.ident, work.index + 1)
            return False
        rt.scheduler.enqueue(spec)
    rt.redis.incr(rt.keys.counter("orphans_requeued"))
    log.warning(
        "re-queued %s %s (job %s): it was in no queue and no registry, lost at a Redis crash or failover",
        work.kind,
        work.ident,
        work.job_id,
    )
    return True


def _step_spec(rt: Runtime, work: Work) -> JobSpec | None:
    run = runs.load(rt.redis, rt.keys, work.ident)
    playbook = rt.config.playbooks.get(run.playbook) if run is not None else None
    if playbook is None or work.index >= len(playbook.steps):
        return None
    assert run is not None
    lane = step_lane(run.lane or Lane.HIGH)
    return step_job(work.ident, work.index, playbook.steps[work.index], lane, work.job_id)
