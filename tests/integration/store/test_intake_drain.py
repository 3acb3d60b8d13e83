"""The intake lane's drain job: accepted batches wait on a list, and one queued job takes them all."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from rq import Queue

from responder import jobs, orphans
from responder.runtime import Runtime
from responder.scheduling import Lane
from responder.store import ingest
from responder.webhook.app import create_app
from tests.helpers import InProcessWorker, alert, body, drain, lane_queues


def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def post(web: FlaskClient, instance: str) -> None:
    # No rule matches "Unrouted": each applied alert lands in the unmatched list, kept for inspection.
    sent = web.post(
        "/webhook/alertmanager", data=body(alert("Unrouted", fingerprint=f"fp-{instance}", instance=instance))
    )
    assert sent.status_code == 200
    assert sent.json == {"accepted": 1, "duplicates": 0}


def applied(runtime: Runtime) -> list[str]:
    """The instances of the alerts applied so far, oldest first."""
    entries = [json.loads(raw) for raw in runtime.redis.lrange(runtime.keys.unmatched, 0, -1)]
    return [entry["labels"]["instance"] for entry in reversed(entries)]


def intake_jobs(runtime: Runtime) -> list[str]:
    return Queue(runtime.keys.lane_queue(Lane.INTAKE), connection=runtime.redis).job_ids


def test_one_drain_job_applies_every_batch_accepted_while_it_waited(runtime: Runtime) -> None:
    web = client(runtime)
    for instance in ("a", "b", "c"):
        post(web, instance)
    assert len(intake_jobs(runtime)) == 1

    drain(runtime)

    assert applied(runtime) == ["a", "b", "c"]
    assert runtime.redis.llen(runtime.keys.intake_batches) == 0
    assert runtime.redis.hlen(runtime.keys.intake_taken) == 0


def test_a_batch_accepted_after_the_drain_job_started_gets_a_job_of_its_own(runtime: Runtime) -> None:
    web = client(runtime)
    post(web, "a")
    [first] = intake_jobs(runtime)
    # The drain job starts (a worker took it) and has not yet looked at the list: a request now
    # must not count on it, so it queues another.
    runtime.redis.lrem(Queue(runtime.keys.lane_queue(Lane.INTAKE), connection=runtime.redis).key, 1, first)
    assert ingest.drain_started(runtime, first) == []
    post(web, "b")
    assert len(intake_jobs(runtime)) == 1 and intake_jobs(runtime)[0] != first

    drain(runtime)

    assert applied(runtime) == ["a", "b"]


def test_a_long_backlog_is_drained_in_turns_so_other_lanes_get_a_worker_between(runtime: Runtime) -> None:
    web = client(runtime)
    for i in range(jobs.DRAIN_BATCHES + 5):
        post(web, f"i{i}")
    worker = InProcessWorker(lane_queues(runtime), connection=runtime.redis)

    worker.work(burst=True, max_jobs=1, logging_level="WARNING")

    assert len(applied(runtime)) == jobs.DRAIN_BATCHES
    assert runtime.redis.llen(runtime.keys.intake_batches) == 5
    assert len(intake_jobs(runtime)) == 1  # a fresh job, queued behind whatever came first
    drain(runtime)
    assert len(applied(runtime)) == jobs.DRAIN_BATCHES + 5


def test_a_batch_that_cannot_be_applied_does_not_hold_up_the_ones_after_it(runtime: Runtime) -> None:
    web = client(runtime)
    post(web, "good")
    post(web, "bad")
    [_, bad] = [b.decode() for b in runtime.redis.lrange(runtime.keys.intake_batches, 0, -1)]
    runtime.redis.lset(runtime.keys.batch(bad), 0, "not json")

    drain(runtime)  # the drain job fails on it, is retried with backoff, and fails for good
    post(web, "after")
    drain(runtime)

    assert applied(runtime) == ["good", "after"]
    # The failed job keeps the batch (RQ's failed-job registry); the sweep stops watching it.
    assert runtime.redis.hget(runtime.keys.intake_taken, bad) is not None
    assert orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock()) == []
    assert runtime.redis.zrange(runtime.keys.pending_batches, 0, -1) == []


def test_a_batch_taken_by_a_drain_job_that_was_lost_is_applied_once(runtime: Runtime) -> None:
    web = client(runtime)
    post(web, "a")
    post(web, "b")
    [job_id] = intake_jobs(runtime)
    # A worker popped the job and took the first batch; then Redis lost the job (crash, failover).
    runtime.redis.delete(Queue(runtime.keys.lane_queue(Lane.INTAKE), connection=runtime.redis).key)
    assert ingest.drain_started(runtime, job_id) == []
    assert ingest.take(runtime, job_id) is not None
    runtime.redis.delete(f"rq:job:{job_id}")

    first = orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock())
    again = orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock() + orphans.GRACE)
    drain(runtime)

    assert first == [] and sorted(w.kind for w in again) == ["batch", "batch"]
    assert applied(runtime) == ["b", "a"]  # the waiting one first; the lost one went back behind it
    assert orphans.find_orphans(runtime) == []


def test_label_and_annotation_text_is_stored_exactly_as_sent(runtime: Runtime) -> None:
    # Documents travel to Redis one per line: text with newlines, quotes and non-ASCII must survive.
    odd = alert("Unrouted", fingerprint="fp-odd", instance='multi\nline "quoted" é ✓')
    odd["annotations"] = {"description": "first line\nsecond line\r\n\ttabbed \\ backslash"}
    plain = alert("Unrouted", fingerprint="fp-plain", instance="plain")
    sent = client(runtime).post("/webhook/alertmanager", data=body(odd, plain))
    assert sent.json == {"accepted": 2, "duplicates": 0}
    [batch_id] = [b.decode() for b in runtime.redis.lrange(runtime.keys.intake_batches, 0, -1)]

    stored = [json.loads(raw)["alert"] for raw in runtime.redis.lrange(runtime.keys.batch(batch_id), 0, -1)]

    assert [(a["labels"], a["annotations"]) for a in stored] == [
        (odd["labels"], odd["annotations"]),
        (plain["labels"], plain["annotations"]),
    ]
    drain(runtime)
    assert applied(runtime) == ['multi\nline "quoted" é ✓', "plain"]


def test_a_payload_of_thousands_of_alerts_is_stored_whole_in_order(runtime: Runtime) -> None:
    many = [alert("Unrouted", fingerprint=f"fp-{i}", instance=f"n{i}") for i in range(2500)]
    sent = client(runtime).post("/webhook/alertmanager", data=body(*many))
    assert sent.json == {"accepted": 2500, "duplicates": 0}
    [batch_id] = [b.decode() for b in runtime.redis.lrange(runtime.keys.intake_batches, 0, -1)]

    stored = [json.loads(raw)["alert"] for raw in runtime.redis.lrange(runtime.keys.batch(batch_id), 0, -1)]

    assert [a["labels"]["instance"] for a in stored] == [f"n{i}" for i in range(2500)]


def test_a_batch_holding_a_critical_alert_is_taken_before_the_batches_waiting_ahead_of_it(
    runtime: Runtime,
) -> None:
    web = client(runtime)
    for instance in ("a", "b", "c"):
        post(web, instance)  # labelled critical, but no rule takes them: nothing critical opens
    # The rule makes it critical whatever its label says.
    sent = web.post(
        "/webhook/alertmanager",
        data=body(alert("APIQuotaExhaustion", fingerprint="fp-quota", severity="warning")),
    )
    assert sent.status_code == 200

    first = ingest.take(runtime, "a-drain-job")
    assert first is not None
    [document] = runtime.redis.lrange(runtime.keys.batch(first), 0, -1)
    assert json.loads(document)["alert"]["labels"]["alertname"] == "APIQuotaExhaustion"
    ingest.finished(runtime, first)
    runtime.redis.rpush(runtime.keys.intake_batches, first)  # give it back: the drain job applies all

    drain(runtime)

    assert applied(runtime) == ["a", "b", "c"]  # the others keep their order
