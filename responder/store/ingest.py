"""Accepting a webhook: dedupe every alert and enqueue the work in one Redis round trip.

One MULTI/EXEC carries a Lua script that, per alert, sets the alert's key
``(fingerprint, status, startsAt)`` if it is new and appends the new ones to a batch
list, and the RQ job that will process that batch. Either all of it lands or none
of it does, so an answer of 200 means the alerts are durable and will be acted on,
and a Redis failure before that means a 503 and a retry from Alertmanager.

The batch id also goes into ``keys.pending_batches``, so the workers' sweep
(:mod:`responder.orphans`) can find a batch whose job was lost in a Redis crash or
failover and queue it again. With ``REDIS_WAIT_REPLICAS=N`` the answer waits until N
replicas hold the batch (Redis ``WAIT``), so a failover right after the 200 cannot lose it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.errors import ReplicasBehind
from responder.scheduling import JobSpec, Lane
from responder.store.connection import UNAVAILABLE, WAIT_TIMEOUT_MS
from responder.store.keys import BATCH_TTL, DEDUPE_TTL, Keys

if TYPE_CHECKING:
    from responder.runtime import Runtime

PROCESS_BATCH = "responder.jobs.process_batch"

# KEYS[1] = batch list, KEYS[2] = pending batches, KEYS[3..n+2] = dedupe keys; ARGV[1] = dedupe TTL,
# ARGV[2] = batch TTL, ARGV[3] = batch id, ARGV[4] = arrival time, ARGV[5..n+4] = alert documents.
# Returns {accepted, duplicates}.
_DEDUPE = """
local accepted, duplicates = 0, 0
for i = 3, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('RPUSH', KEYS[1], ARGV[i + 2])
    accepted = accepted + 1
  else
    redis.call('EXPIRE', KEYS[i], ARGV[1])
    duplicates = duplicates + 1
  end
end
if accepted > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
end
return {accepted, duplicates}
"""


@dataclass(frozen=True)
class Accepted:
    batch_id: str
    accepted: int
    duplicates: int


def batch_job(keys: Keys, batch_id: str) -> JobSpec:
    """The job that processes an accepted batch (its id is fixed: queueing it again replaces it)."""
    return JobSpec(
        PROCESS_BATCH,
        (batch_id,),
        job_id=f"{keys.prefix}-batch-{batch_id}",
        timeout=600,
        retry_intervals=(1, 2, 5, 10, 30),
        result_ttl=300,
        lane=Lane.INTAKE,
    )


def accept(
    rt: Runtime,
    alerts: Sequence[dict[str, Any]],
    group_key: str,
    received_at: float | None = None,
    truncated: int = 0,
    *,
    wait_replicas: int = 0,
) -> Accepted:
    """Dedupe and enqueue ``alerts`` (Alertmanager's alert objects) atomically.

    With ``wait_replicas``, return only once that many replicas hold the batch.

    Raises:
        redis.exceptions.ConnectionError / TimeoutError: Redis is unreachable; nothing was written.
        ReplicasBehind: written on the primary, but fewer than ``wait_replicas`` replicas confirmed
            it within ``WAIT_TIMEOUT_MS`` (a retry of the same alerts is a duplicate and waits again).
    """
    redis, keys = rt.redis, rt.keys
    received_at = received_at if received_at is not None else rt.clock()
    batch_id = rt.new_id(32)
    dedupe_keys = [keys.dedupe(a["fingerprint"], a["status"], a["startsAt"]) for a in alerts]
    documents = [
        json.dumps({"alert": a, "groupKey": group_key, "receivedAt": received_at}, separators=(",", ":"))
        for a in alerts
    ]
    with redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        pipe.eval(
            _DEDUPE,
            2 + len(dedupe_keys),
            keys.batch(batch_id),
            keys.pending_batches,
            *dedupe_keys,
            DEDUPE_TTL,
            BATCH_TTL,
            batch_id,
            received_at,
            *documents,
        )
        pipe.incrby(keys.counter("webhook_requests"), 1)
        if truncated:
            # Alertmanager dropped alerts beyond its max_alerts: we cannot act on what we never saw.
            pipe.incrby(keys.counter("alerts_truncated"), truncated)
        rt.scheduler.enqueue(batch_job(keys, batch_id), pipeline=pipe)
        results = pipe.execute()
    accepted, duplicates = (int(x) for x in results[0])
    if wait_replicas:
        _wait_for_replicas(rt, wait_replicas)
    return Accepted(batch_id, accepted, duplicates)


def _wait_for_replicas(rt: Runtime, wanted: int) -> None:
    """Block until ``wanted`` replicas hold everything written so far, or raise ReplicasBehind.

    ``WAIT`` counts the replicas that have the last write *of the connection it runs on*,
    and inside a transaction it does not block; so it runs after the transaction, on one
    connection together with a write of its own, which the stream carries after the batch.
    """
    try:
        with rt.redis.pipeline(transaction=False) as pipe:
            pipe.incr(rt.keys.counter("webhook_replica_waits"))
            pipe.execute_command("WAIT", wanted, WAIT_TIMEOUT_MS)
            confirmed = int(pipe.execute()[1])
    except UNAVAILABLE:
        confirmed = 0  # the batch is on the primary (its transaction answered); no replica confirmed it
    if confirmed < wanted:
        raise ReplicasBehind(wanted, confirmed, WAIT_TIMEOUT_MS)
