"""Accepting a webhook: dedupe every alert and queue the work on it, in one Redis round trip.

One Lua script (registered once per process and run by ``EVALSHA``) sets, per alert, the
alert's key ``(fingerprint, status, startsAt)`` if it is new, appends the new ones to a
batch list, and appends the batch id to the intake list (``keys.intake_batches``), which
the intake lane's drain job works through. A script runs atomically, so either all of it
lands or none of it does: an answer of 200 means the alerts are durable and will be acted
on, and a Redis failure before that means a 503 and a retry from Alertmanager.

**One drain job, not one job per request.** A webhook queues a drain job
(``responder.jobs.drain_intake``, intake lane) only when none is queued and not yet started:
``keys.intake_drainer`` names the one queued, set in the same script as the job. A drain
job clears that mark when it starts, before it takes its first batch, and then takes batch
ids until the list is empty. So a batch id pushed at any instant is taken by a drain job
that starts after the push: the one already queued, or the one the push queued. Under a
storm each start lets the next request queue another, so every worker can drain at once.

The drain job's RQ record is built by RQ itself, once per process (:func:`_drain_fields`);
the script writes it as RQ's own enqueue does (the job hash, then the id on the lane's
queue), with only the id and times changed, so a request pays for RQ's job building only
in the process's first request, not in every one.

Every batch id also goes into ``keys.pending_batches``, and a drain job records the batch
it is processing in ``keys.intake_taken`` (taking it off the list in the same script), so
the workers' sweep (:mod:`responder.orphans`) finds a batch whose job was lost in a Redis
crash or failover and queues it again. With ``REDIS_WAIT_REPLICAS=N`` the answer waits
until N replicas hold the batch (Redis ``WAIT``), so a failover right after the 200 cannot
lose it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import NoScriptError
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.utils import now, utcformat

from responder.errors import ReplicasBehind
from responder.scheduling import JobSpec, Lane
from responder.store.connection import UNAVAILABLE, WAIT_TIMEOUT_MS
from responder.store.keys import BATCH_TTL, DEDUPE_TTL, Keys

if TYPE_CHECKING:
    from responder.runtime import Runtime

PROCESS_BATCH = "responder.jobs.process_batch"
DRAIN_INTAKE = "responder.jobs.drain_intake"
DRAINER_MARK_TTL = 120
"""Seconds the "a drain job is queued" mark lives at most. It is cleared when that job starts; the
TTL only bounds the harm of a mark whose job was lost (then the next request queues another)."""

# KEYS: 1 batch list, 2 pending batches, 3 intake list, 4 drainer mark, 5 requests counter,
#       6 truncated counter, 7 the intake lane's RQ queue, 8 the new drain job's hash, 9.. dedupe keys.
# ARGV: 1 batch id, 2 arrival time, 3 alerts truncated, 4 "1" if the batch goes to the head of the
#       intake list (it holds a critical alert), 5 the alert documents, one per line (compact JSON has
#       no raw newline), in the order of their dedupe keys; then, when a drain job may have to be
#       queued: 6 its id, 7.. its hash's fields (name, value). Few arguments: redis-py packs each
#       one in Python, which was a good part of a request's cost.
# Returns {accepted, duplicates, 1 if it queued a drain job}, or {-1, 0, 0} having written nothing when
# a drain job must be queued and the call did not bring its fields: the caller calls again with them.
_ACCEPT = (
    """
local marked = false
if #ARGV < 6 then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    return {-1, 0, 0}
  end
  marked = true
end
local docs, from, new = ARGV[5], 1, {}
local accepted, duplicates, queued = 0, 0, 0
for i = 9, #KEYS do
  local to = string.find(docs, '\\n', from, true)
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', @DEDUPE_TTL@) then
    accepted = accepted + 1
    new[accepted] = string.sub(docs, from, (to or 0) - 1)
  else
    redis.call('EXPIRE', KEYS[i], @DEDUPE_TTL@)
    duplicates = duplicates + 1
  end
  from = (to or #docs) + 1
end
redis.call('INCR', KEYS[5])
if tonumber(ARGV[3]) > 0 then
  redis.call('INCRBY', KEYS[6], ARGV[3])
end
if accepted > 0 then
  for j = 1, accepted, 1000 do  -- unpack takes a few thousand values at most
    redis.call('RPUSH', KEYS[1], unpack(new, j, math.min(j + 999, accepted)))
  end
  redis.call('EXPIRE', KEYS[1], @BATCH_TTL@)
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  local push = 'RPUSH'
  if ARGV[4] == '1' then
    push = 'LPUSH'  -- taken next: a critical alert never waits behind a storm's batches
  end
  if redis.call(push, KEYS[3], ARGV[1]) == 1 then
    redis.call('EXPIRE', KEYS[3], @BATCH_TTL@)  -- a new list; each drain job's start renews it
  end
  if not marked and redis.call('SET', KEYS[4], ARGV[6], 'NX', 'EX', @MARK_TTL@) then
    redis.call('HSET', KEYS[8], unpack(ARGV, 7))
    redis.call('SADD', '@QUEUES@', KEYS[7])
    redis.call('RPUSH', KEYS[7], ARGV[6])
    queued = 1
  end
end
return {accepted, duplicates, queued}
""".replace("@DEDUPE_TTL@", str(DEDUPE_TTL))
    .replace("@BATCH_TTL@", str(BATCH_TTL))
    .replace("@MARK_TTL@", str(DRAINER_MARK_TTL))
    .replace("@QUEUES@", Queue.redis_queues_keys)  # RQ's set of known queues, as its enqueue adds to it
)


# KEYS: 1 drainer mark, 2 the intake lane's RQ queue, 3 the new drain job's hash, 4 intake list, 5 taken.
# ARGV: 1 job id, 2 mark TTL, 3 "1": queue one whatever the mark says, 4 a batch id to put back on the
#       list ("" for none), 5.. the job hash's fields. Returns 1 if it queued a drain job.
_ENSURE = """
if ARGV[4] ~= '' then
  if not redis.call('LPOS', KEYS[4], ARGV[4]) then
    redis.call('RPUSH', KEYS[4], ARGV[4])
  end
  redis.call('HDEL', KEYS[5], ARGV[4])
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[3], unpack(ARGV, 5))
redis.call('SADD', '@QUEUES@', KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
""".replace("@QUEUES@", Queue.redis_queues_keys)

# KEYS: 1 intake list, 2 taken; ARGV: 1 drain job id, 2 TTL. The next batch id, now recorded as taken.
_TAKE = """
local id = redis.call('LPOP', KEYS[1])
if id then
  redis.call('HSET', KEYS[2], id, ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return id
"""


@dataclass(frozen=True)
class Accepted:
    batch_id: str
    accepted: int
    duplicates: int


def batch_job(keys: Keys, batch_id: str) -> JobSpec:
    """A job that processes one accepted batch (its id is fixed: queueing it again replaces it).

    What versions before the drain job queued per request; such jobs still run
    (``jobs.process_batch``), and the sweep still knows them.
    """
    return JobSpec(
        PROCESS_BATCH,
        (batch_id,),
        job_id=f"{keys.prefix}-batch-{batch_id}",
        timeout=600,
        retry_intervals=(1, 2, 5, 10, 30),
        result_ttl=300,
        lane=Lane.INTAKE,
    )


def drain_job(keys: Keys, ident: str) -> JobSpec:
    """The intake lane's drain job, with a fresh id (``ident``: any unique text)."""
    return JobSpec(
        DRAIN_INTAKE,
        (),
        job_id=drain_job_id(keys, ident),
        timeout=600,
        retry_intervals=(1, 2, 5, 10, 30),
        result_ttl=300,
        lane=Lane.INTAKE,
    )


def drain_job_id(keys: Keys, ident: str) -> str:
    return f"{keys.prefix}-intake-{ident}"


def is_drain_job(keys: Keys, job_id: str) -> bool:
    return job_id.startswith(f"{keys.prefix}-intake-")


@functools.lru_cache(maxsize=64)
def _drain_fields(prefix: str) -> tuple[Any, ...]:
    """A queued drain job's RQ hash, as RQ's own enqueue writes it, less its times (name, value, ...)."""
    keys = Keys(prefix)
    spec = drain_job(keys, "template")
    queue = Queue(keys.lane_queue(spec.lane), connection=Redis())  # builds objects only, no I/O
    job = queue.create_job(
        spec.func,
        args=spec.args,
        job_id=spec.job_id,
        timeout=spec.timeout,
        result_ttl=spec.result_ttl,
        failure_ttl=spec.failure_ttl,
        retry=Retry(max=len(spec.retry_intervals), interval=list(spec.retry_intervals)),
    )
    # What Queue._prepare_for_queue sets before RQ saves a job it enqueues.
    job.origin = queue.name
    job.enqueued_at = now()
    job._status = JobStatus.QUEUED
    fields = job.to_dict()
    for timed in ("created_at", "enqueued_at"):
        fields.pop(timed, None)
    return tuple(x for item in fields.items() for x in item)


_needed_fields: dict[str, bool] = {}
"""Per key prefix: whether the last accepted request had to queue a drain job (send its fields)."""


def _job_fields(keys: Keys) -> list[Any]:
    stamp = utcformat(now())
    return [*_drain_fields(keys.prefix), "created_at", stamp, "enqueued_at", stamp]


# Registered once per process (the client only encodes them; each call names its own): redis-py runs
# a script by EVALSHA, and loads it again where a server does not know it (after a restart or failover).
_REGISTRAR = Redis()
_ACCEPT_SCRIPT = _REGISTRAR.register_script(_ACCEPT)
_ENSURE_SCRIPT = _REGISTRAR.register_script(_ENSURE)
_TAKE_SCRIPT = _REGISTRAR.register_script(_TAKE)


def _run_accept(redis: Redis, keys: list[str], args: list[Any]) -> Any:
    """The accept script by EVALSHA, loading it where the server does not know it yet (as
    ``Script.__call__`` does, less its per-call imports and checks: this runs on every webhook)."""
    try:
        return redis.evalsha(_ACCEPT_SCRIPT.sha, len(keys), *keys, *args)
    except NoScriptError:
        return _ACCEPT_SCRIPT(keys=keys, args=args, client=redis)


def documents(encoded: Sequence[bytes], group_key: str, received_at: float) -> bytes:
    """How the accepted alerts are stored in their batch (what ``intake.process_batch`` reads), one
    ``{"alert", "groupKey", "receivedAt"}`` object per line, from each alert's JSON."""
    head = b'{"alert":'
    tail = f',"groupKey":{json.dumps(group_key)},"receivedAt":{received_at!r}}}'.encode()
    return b"\n".join(b"".join((head, alert, tail)) for alert in encoded)


def accept(
    rt: Runtime,
    alerts: Sequence[Mapping[str, Any]],
    group_key: str,
    received_at: float | None = None,
    truncated: int = 0,
    *,
    wait_replicas: int = 0,
    encoded: Sequence[bytes] | None = None,
    urgent: bool = False,
) -> Accepted:
    """Dedupe ``alerts`` (Alertmanager's alert objects) and queue the new ones, atomically.

    ``encoded`` is each alert already as JSON (the webhook has it from its validation), so
    it is not serialised twice. ``urgent`` (the batch holds a critical alert) puts the batch at the
    head of the intake list, so it is the next one a drain job takes, however many wait. With
    ``wait_replicas``, return only once that many replicas hold the batch.

    Raises:
        redis.exceptions.ConnectionError / TimeoutError: Redis is unreachable; nothing was written.
        ReplicasBehind: written on the primary, but fewer than ``wait_replicas`` replicas confirmed
            it within ``WAIT_TIMEOUT_MS`` (a retry of the same alerts is a duplicate and waits again).
    """
    redis, keys = rt.redis, rt.keys
    received_at = received_at if received_at is not None else rt.clock()
    batch_id = rt.new_id(32)
    if encoded is None:
        encoded = [json.dumps(a, separators=(",", ":")).encode() for a in alerts]
    dedupe_keys = [keys.dedupe(a["fingerprint"], a["status"], a["startsAt"]) for a in alerts]
    job_id = drain_job_id(keys, batch_id)
    script_keys = [
        keys.batch(batch_id),
        keys.pending_batches,
        keys.intake_batches,
        keys.intake_drainer,
        keys.counter("webhook_requests"),
        keys.counter("alerts_truncated"),
        _queue_key(keys),
        Job.key_for(job_id),
        *dedupe_keys,
    ]
    head: list[Any] = [
        batch_id,
        repr(received_at),
        truncated,
        "1" if urgent else "0",
        documents(encoded, group_key, received_at),
    ]
    # A drain job is usually queued already (the mark is set): then its record is not sent. The
    # last answer guides the next call, so a quiet responder does not pay two calls each time.
    args = [*head, job_id, *_job_fields(keys)] if _needed_fields.get(keys.prefix) else head
    result = _run_accept(redis, script_keys, args)
    if int(result[0]) < 0:
        result = _run_accept(redis, script_keys, [*head, job_id, *_job_fields(keys)])
    _needed_fields[keys.prefix] = bool(int(result[2]))
    accepted, duplicates = int(result[0]), int(result[1])
    if wait_replicas:
        _wait_for_replicas(rt, wait_replicas)
    return Accepted(batch_id, accepted, duplicates)


def _queue_key(keys: Keys) -> str:
    return f"{Queue.redis_queue_namespace_prefix}{keys.lane_queue(Lane.INTAKE)}"


def ensure_drainer(rt: Runtime, *, force: bool = False, put_back: str = "") -> bool:
    """Queue a drain job unless one is queued and not yet started (``force``: queue one anyway).

    ``put_back`` first returns that batch id to the intake list (unless it is there) and clears
    its taken record: the sweep's way of queueing a lost batch again. True if a job was queued.
    """
    keys = rt.keys
    job_id = drain_job_id(keys, rt.new_id(32))
    queued = _ENSURE_SCRIPT(
        keys=[
            keys.intake_drainer,
            _queue_key(keys),
            Job.key_for(job_id),
            keys.intake_batches,
            keys.intake_taken,
        ],
        args=[job_id, DRAINER_MARK_TTL, "1" if force else "0", put_back, *_job_fields(keys)],
        client=rt.redis,
    )
    return bool(queued)


def drain_started(rt: Runtime, job_id: str) -> list[str]:
    """A drain job starts: clear the queued mark (a request from now on queues another job) and
    return the batches this job had taken and not finished (it is a retry, or was queued again)."""
    keys = rt.keys
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.delete(keys.intake_drainer)
        pipe.expire(keys.intake_batches, BATCH_TTL)  # as long as a batch lives, while drain jobs run
        pipe.hgetall(keys.intake_taken)
        _, _, taken = pipe.execute()
    return sorted(_text(b) for b, owner in taken.items() if _text(owner) == job_id)


def take(rt: Runtime, job_id: str) -> str | None:
    """The next batch id off the intake list, recorded as taken by ``job_id``; None when it is empty."""
    keys = [rt.keys.intake_batches, rt.keys.intake_taken]
    taken = _TAKE_SCRIPT(keys=keys, args=[job_id, BATCH_TTL], client=rt.redis)
    return None if taken is None else _text(taken)


def finished(rt: Runtime, batch_id: str) -> None:
    """A drain job is done with ``batch_id`` (processed: its list is gone)."""
    rt.redis.hdel(rt.keys.intake_taken, batch_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _wait_for_replicas(rt: Runtime, wanted: int) -> None:
    """Block until ``wanted`` replicas hold everything written so far, or raise ReplicasBehind.

    ``WAIT`` counts the replicas that have the last write *of the connection it runs on*,
    and inside a transaction or script it does not block; so it runs after the script, on one
    connection together with a write of its own, which the stream carries after the batch.
    """
    try:
        with rt.redis.pipeline(transaction=False) as pipe:
            pipe.incr(rt.keys.counter("webhook_replica_waits"))
            pipe.execute_command("WAIT", wanted, WAIT_TIMEOUT_MS)
            confirmed = int(pipe.execute()[1])
    except UNAVAILABLE:
        confirmed = 0  # the batch is on the primary (its script answered); no replica confirmed it
    if confirmed < wanted:
        raise ReplicasBehind(wanted, confirmed, WAIT_TIMEOUT_MS)
