"""Accepting a webhook: dedupe every alert and enqueue the work in one Redis round trip.

One MULTI/EXEC carries a Lua script that, per alert, sets the alert's key
``(fingerprint, status, startsAt)`` if it is new and appends the new ones to a batch
list, and the RQ job that will process that batch. Either all of it lands or none
of it does, so an answer of 200 means the alerts are durable and will be acted on,
and a Redis failure before that means a 503 and a retry from Alertmanager.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.scheduling import JobSpec, Lane
from responder.store.keys import BATCH_TTL, DEDUPE_TTL

if TYPE_CHECKING:
    from responder.runtime import Runtime

PROCESS_BATCH = "responder.jobs.process_batch"

# KEYS[1] = batch list, KEYS[2..n+1] = dedupe keys; ARGV[1] = dedupe TTL, ARGV[2] = batch TTL,
# ARGV[3..n+2] = alert documents. Returns {accepted, duplicates}.
_DEDUPE = """
local accepted, duplicates = 0, 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('RPUSH', KEYS[1], ARGV[i + 1])
    accepted = accepted + 1
  else
    redis.call('EXPIRE', KEYS[i], ARGV[1])
    duplicates = duplicates + 1
  end
end
if accepted > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {accepted, duplicates}
"""


@dataclass(frozen=True)
class Accepted:
    batch_id: str
    accepted: int
    duplicates: int


def accept(
    rt: Runtime,
    alerts: Sequence[dict[str, Any]],
    group_key: str,
    received_at: float | None = None,
    truncated: int = 0,
) -> Accepted:
    """Dedupe and enqueue ``alerts`` (Alertmanager's alert objects) atomically.

    Raises:
        redis.exceptions.ConnectionError / TimeoutError: Redis is unreachable; nothing was written.
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
            1 + len(dedupe_keys),
            keys.batch(batch_id),
            *dedupe_keys,
            DEDUPE_TTL,
            BATCH_TTL,
            *documents,
        )
        pipe.incrby(keys.counter("webhook_requests"), 1)
        if truncated:
            # Alertmanager dropped alerts beyond its max_alerts: we cannot act on what we never saw.
            pipe.incrby(keys.counter("alerts_truncated"), truncated)
        job = JobSpec(
            PROCESS_BATCH,
            (batch_id,),
            job_id=f"{keys.prefix}-batch-{batch_id}",
            timeout=600,
            retry_intervals=(1, 2, 5, 10, 30),
            result_ttl=300,
            lane=Lane.INTAKE,
        )
        rt.scheduler.enqueue(job, pipeline=pipe)
        results = pipe.execute()
    accepted, duplicates = (int(x) for x in results[0])
    return Accepted(batch_id, accepted, duplicates)
