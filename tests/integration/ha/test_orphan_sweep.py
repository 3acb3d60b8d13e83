"""Accepted work whose job vanished (popped at the instant Redis died) is found and queued again, once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pytest_httpserver import HTTPServer
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from responder import orphans
from responder.runtime import Runtime
from responder.scheduling import Lane
from responder.store import ingest
from responder.webhook.app import create_app
from responder.worker import worker_queues
from tests.helpers import (
    InProcessWorker,
    alert,
    body,
    drain,
    eventually,
    incidents_of,
    start_worker,
    timeline_of,
)


def post(runtime: Runtime, sink: HTTPServer, instance: str) -> None:
    client = create_app(runtime).test_client()
    sent = client.post(
        "/webhook/alertmanager", data=body(alert("HADrill", instance=instance, port=str(sink.port)))
    )
    assert sent.status_code == 200


def lose_next_job(runtime: Runtime, *, with_its_record: bool = False) -> str:
    """What a Redis crash at the wrong instant leaves: the job popped off its queue (a worker's
    BLPOP, the first non-empty lane) and never registered as started; with ``with_its_record``
    its hash is gone too."""
    queues = worker_queues(runtime.redis, runtime.keys)
    job_id = next((j for q in queues if (j := runtime.redis.lpop(q.key)) is not None), None)
    assert job_id is not None
    if with_its_record:
        runtime.redis.delete(Job.key_for(job_id.decode()))
    return job_id.decode()


def sweep_twice(runtime: Runtime) -> list[orphans.Work]:
    """Two sweeps :data:`orphans.GRACE` seconds apart (on the runtime's clock): the first only suspects."""
    first = orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock())
    assert first == []
    return orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock() + orphans.GRACE)


def touched(sink: HTTPServer) -> list[str]:
    return sorted(request.path for request, _ in sink.log)


def test_a_lost_batch_is_queued_again_and_its_alert_acted_on_once(
    ha_config: Path, runtime: Runtime, sink: HTTPServer
) -> None:
    post(runtime, sink, "a")
    lose_next_job(runtime)

    [work] = sweep_twice(runtime)
    drain(runtime)

    assert (work.kind, work.job_id) == ("batch", work.job_id)
    [incident] = incidents_of(runtime)
    assert incident["labels"]["instance"] == "a"
    assert touched(sink) == ["/first/a", "/second/a"]
    assert orphans.find_orphans(runtime) == []  # processed: nothing pending any more
    assert runtime.redis.zcard(runtime.keys.pending_batches) == 0


def test_a_batch_lost_with_its_job_record_is_queued_again_from_scratch(
    ha_config: Path, runtime: Runtime, sink: HTTPServer
) -> None:
    post(runtime, sink, "a")
    lost = lose_next_job(runtime, with_its_record=True)

    [work] = sweep_twice(runtime)
    drain(runtime)

    assert work.job_id == lost
    assert [i["labels"]["instance"] for i in incidents_of(runtime)] == ["a"]
    assert touched(sink) == ["/first/a", "/second/a"]


def test_a_lost_step_is_queued_again_and_the_run_completes_with_each_step_once(
    ha_config: Path, runtime: Runtime, sink: HTTPServer
) -> None:
    post(runtime, sink, "a")
    drain_one_job(runtime)  # the batch: its incident's run queues step 1 (and the level-1 page)
    step_queue = lane(runtime, Lane.HIGH)  # the drill rule's severity
    step_job = next(j for j in step_queue.get_jobs() if j.func_name == "responder.jobs.execute_step")
    runtime.redis.lrem(step_queue.key, 1, step_job.id)
    runtime.redis.delete(step_job.key)

    [work] = sweep_twice(runtime)
    drain(runtime)

    assert (work.kind, work.index) == ("step", 0)
    [incident] = incidents_of(runtime)
    kinds = [(e["kind"], e.get("details", {}).get("step")) for e in timeline_of(runtime, incident["id"])]
    assert kinds.count(("step.ok", 0)) == 1 and kinds.count(("step.ok", 1)) == 1
    assert ("playbook.completed", None) in kinds
    assert touched(sink) == ["/first/a", "/second/a"]


def lane(runtime: Runtime, which: Lane) -> Queue:
    return Queue(runtime.keys.lane_queue(which), connection=runtime.redis)


def drain_one_job(runtime: Runtime) -> None:
    """The next job in lane order (the first is the accepted batch, in the intake lane)."""
    queues = worker_queues(runtime.redis, runtime.keys)
    InProcessWorker(queues, connection=runtime.redis).work(burst=True, max_jobs=1)


def test_work_that_is_queued_scheduled_or_being_taken_is_never_queued_again(
    ha_config: Path, runtime: Runtime, sink: HTTPServer
) -> None:
    post(runtime, sink, "queued")
    post(runtime, sink, "taken")
    intake = lane(runtime, Lane.INTAKE)
    assert len(intake.get_jobs()) == 1  # one drain job carries both batches
    assert orphans.find_orphans(runtime) == []
    # The drain job is being taken: popped, and registered as started only after the first sweep.
    popped = lose_next_job(runtime)
    assert orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock()) == []
    runtime.redis.rpush(intake.intermediate_queue_key, popped)
    # Another drain job took a batch and waits out a retry's backoff (in the scheduled registry).
    ingest.ensure_drainer(runtime, force=True)
    [retrying] = intake.get_jobs()
    runtime.redis.lrem(intake.key, 1, retrying.id)
    ScheduledJobRegistry(queue=intake).schedule(retrying, retrying.enqueued_at)
    assert ingest.take(runtime, retrying.id) is not None

    assert orphans.settle(runtime, orphans.find_orphans(runtime), runtime.clock() + 60) == []
    assert runtime.redis.hlen(runtime.keys.sweep_suspects) == 0
    assert intake.count == 0


def test_a_batch_delivered_twice_opens_one_incident_and_runs_its_playbook_once(
    ha_config: Path, runtime: Runtime, sink: HTTPServer
) -> None:
    post(runtime, sink, "a")
    [batch_id] = [b.decode() for b in runtime.redis.zrange(runtime.keys.pending_batches, 0, -1)]
    runtime.scheduler.enqueue(ingest.batch_job(runtime.keys, batch_id))  # a second delivery of the same job
    drain(runtime)
    runtime.scheduler.enqueue(ingest.batch_job(runtime.keys, batch_id))  # and a third, after it was processed
    drain(runtime)

    [incident] = incidents_of(runtime)
    started = [e for e in timeline_of(runtime, incident["id"]) if e["kind"] == "playbook.started"]
    assert len(started) == 1
    assert touched(sink) == ["/first/a", "/second/a"]


def test_a_worker_sweeps_a_lost_batch_by_itself(ha_config: Path, runtime: Runtime, sink: HTTPServer) -> None:
    post(runtime, sink, "a")
    lose_next_job(runtime)
    worker = start_worker(dict(os.environ, RESPONDER_MAINTENANCE_INTERVAL="1"))
    try:
        eventually(lambda: len(touched(sink)) == 2, timeout=40)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert [i["labels"]["instance"] for i in incidents_of(runtime)] == ["a"]
    assert worker.returncode == 0
