"""Dedupe on (fingerprint, status, startsAt) against the real Redis, as replicas re-send groups."""

from __future__ import annotations

import json
from pathlib import Path

from redis import Redis
from rq import Queue

from responder.config.loader import LoadedConfig
from responder.config.models import ResponderConfig
from responder.runtime import Runtime
from responder.store.ingest import Accepted, accept
from responder.store.keys import DEDUPE_TTL, Keys
from tests.helpers import alert

GROUP = '{}:{alertname="QueueDepthHigh"}'
NO_CONFIG = LoadedConfig(Path("."), ResponderConfig(), [], {})


def send(redis: Redis, keys: Keys, *alerts: dict[str, object]) -> Accepted:
    """What the webhook does with a payload of ``alerts``, for the responder whose keys are ``keys``."""
    return accept(Runtime(redis, keys, Path("."), NO_CONFIG), list(alerts), GROUP)


def counts(result: Accepted) -> tuple[int, int]:
    return result.accepted, result.duplicates


def test_same_alert_sent_again_is_a_duplicate(redis: Redis, keys: Keys) -> None:
    firing = alert("QueueDepthHigh", fingerprint="fp1")

    assert counts(send(redis, keys, firing)) == (1, 0)
    assert counts(send(redis, keys, firing)) == (0, 1)
    assert counts(send(redis, keys, firing)) == (0, 1)


def test_changed_annotations_do_not_make_a_resend_new(redis: Redis, keys: Keys) -> None:
    # Alertmanager re-sends with fresh annotation values (the current queue depth); same alert.
    first = alert("QueueDepthHigh", fingerprint="fp1")
    later = {**first, "annotations": {"summary": "queue depth now 950"}}

    send(redis, keys, first)

    assert counts(send(redis, keys, later)) == (0, 1)


def test_resolution_of_the_same_alert_is_new(redis: Redis, keys: Keys) -> None:
    send(redis, keys, alert("QueueDepthHigh", fingerprint="fp1"))

    resolved = alert("QueueDepthHigh", status="resolved", fingerprint="fp1")

    assert counts(send(redis, keys, resolved)) == (1, 0)
    assert counts(send(redis, keys, resolved)) == (0, 1)


def test_refiring_with_a_new_starts_at_is_new(redis: Redis, keys: Keys) -> None:
    send(redis, keys, alert("QueueDepthHigh", fingerprint="fp1"))
    send(redis, keys, alert("QueueDepthHigh", status="resolved", fingerprint="fp1"))

    again = alert("QueueDepthHigh", fingerprint="fp1", starts_at="2026-11-28T11:00:00Z")

    assert counts(send(redis, keys, again)) == (1, 0)


def test_other_fingerprint_is_new(redis: Redis, keys: Keys) -> None:
    send(redis, keys, alert("QueueDepthHigh", fingerprint="fp1"))

    assert counts(send(redis, keys, alert("QueueDepthHigh", fingerprint="fp2"))) == (1, 0)


def test_mixed_payload_counts_each_alert(redis: Redis, keys: Keys) -> None:
    old = alert("QueueDepthHigh", fingerprint="fp1")
    send(redis, keys, old)

    result = send(
        redis,
        keys,
        old,
        alert("QueueDepthHigh", status="resolved", fingerprint="fp1"),
        alert("WorkerDown", fingerprint="fp3"),
        alert("WorkerDown", fingerprint="fp3"),  # listed twice in one payload
    )

    assert counts(result) == (2, 2)


def test_only_new_alerts_are_queued_for_processing(redis: Redis, keys: Keys) -> None:
    old = alert("QueueDepthHigh", fingerprint="fp1")
    send(redis, keys, old)
    new = alert("WorkerDown", fingerprint="fp9")

    result = send(redis, keys, old, new)

    queued = [json.loads(doc) for doc in redis.lrange(keys.batch(result.batch_id), 0, -1)]
    assert [doc["alert"]["fingerprint"] for doc in queued] == ["fp9"]
    assert queued[0]["groupKey"] == GROUP
    waiting = [b.decode() for b in redis.lrange(keys.intake_batches, 0, -1)]
    assert waiting[-1] == result.batch_id
    # One drain job carries both batches: the second request found it queued and queued no other.
    [job_id] = Queue(keys.lane_queue("intake"), connection=redis).job_ids
    assert job_id.startswith(f"{keys.prefix}-intake-")


def test_two_responders_sharing_redis_dedupe_separately(redis: Redis, keys: Keys) -> None:
    other = Keys(prefix=f"{keys.prefix}-other")
    firing = alert("QueueDepthHigh", fingerprint="fp1")
    try:
        send(redis, keys, firing)

        assert counts(send(redis, other, firing)) == (1, 0)
    finally:
        for key in redis.scan_iter(f"{other.prefix}:*"):
            redis.delete(key)
        for key in redis.scan_iter(f"rq:*{other.prefix}*"):
            redis.delete(key)


def test_remembered_alerts_expire_so_redis_does_not_grow_forever(redis: Redis, keys: Keys) -> None:
    firing = alert("QueueDepthHigh", fingerprint="fp1")
    send(redis, keys, firing)

    ttl = redis.ttl(keys.dedupe("fp1", "firing", firing["startsAt"]))

    assert 0 < ttl <= DEDUPE_TTL
