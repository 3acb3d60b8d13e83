"""Playbook runs in Redis: one hash per run, kept for :data:`RUN_TTL`.

Fields: the run's identity (``id``, ``incident_id``, ``playbook``, ``alert``, ``trigger``,
``dry_run``, ``created_at``), where it is (``status``, ``step``, ``target``), and per step
``done:<i>`` (outcome), ``approved:<i>`` (who) and ``failures:<i>`` (attempts that failed);
``awaiting_since`` is when it began waiting for approval of the step it is on; ``confirm``
marks a run created waiting for a Run click (``automation: confirm``); ``job``, the id of the
RQ job last queued for it. Runs that queued a job are listed in ``keys.active_runs`` until the
workers' sweep finds them finished.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis
from redis.client import Pipeline

from responder.store.codec import text
from responder.store.keys import Keys
from responder.store.records import Alert, Run, RunStatus

RUN_TTL = 30 * 86400


def create(pipe: Pipeline, keys: Keys, run: Run) -> None:
    key = keys.run(run.id)
    pipe.hset(
        key,
        mapping={
            "id": run.id,
            "incident_id": run.incident_id,
            "playbook": run.playbook,
            "alert": json.dumps(run.alert.to_webhook()),
            "trigger": run.trigger,
            "dry_run": int(run.dry_run),
            "status": run.status.value,
            "step": run.step,
            "created_at": run.created_at,
            "lane": run.lane,
            **({"confirm": 1} if run.confirm else {}),
            **({"awaiting_since": run.awaiting_since} if run.awaiting_since is not None else {}),
        },
    )
    pipe.expire(key, RUN_TTL)
    pipe.sadd(keys.incident_runs(run.incident_id), run.id)
    pipe.expire(keys.incident_runs(run.incident_id), RUN_TTL)


def load(redis: Redis | Pipeline, keys: Keys, run_id: str) -> Run | None:
    return decode(redis.hgetall(keys.run(run_id)))


def decode(raw: dict[Any, Any]) -> Run | None:
    """A run from its hash as read (``HGETALL``, perhaps in a caller's pipeline); None when empty."""
    if not raw:
        return None
    data = {text(k): text(v) for k, v in raw.items()}
    per_step: dict[str, dict[int, str]] = {"done": {}, "approved": {}, "failures": {}}
    for name, value in data.items():
        prefix, _, index = name.partition(":")
        if prefix in per_step and index.isdigit():
            per_step[prefix][int(index)] = value
    return Run(
        id=data["id"],
        incident_id=data["incident_id"],
        playbook=data["playbook"],
        alert=Alert.from_webhook(json.loads(data["alert"])),
        trigger=data.get("trigger", "firing"),
        dry_run=data.get("dry_run") == "1",
        status=RunStatus(data["status"]),
        step=int(data.get("step", 0)),
        created_at=float(data.get("created_at", 0)),
        lane=data.get("lane", "high"),
        target=data.get("target") or None,
        done=per_step["done"],
        approved=per_step["approved"],
        failures={i: int(n) for i, n in per_step["failures"].items()},
        awaiting_since=float(data["awaiting_since"]) if data.get("awaiting_since") else None,
        confirm=data.get("confirm") == "1",
    )


def of_incident(redis: Redis | Pipeline, keys: Keys, incident_id: str) -> list[Run]:
    """Every run of an incident (oldest first)."""
    ids = sorted(text(i) for i in redis.smembers(keys.incident_runs(incident_id)))
    found = [load(redis, keys, run_id) for run_id in ids]
    return sorted((run for run in found if run is not None), key=lambda run: run.created_at)


def lane(redis: Redis, keys: Keys, run_id: str) -> str | None:
    """The lane a run's steps wait in (runs created before lanes have none)."""
    raw = redis.hget(keys.run(run_id), "lane")
    return None if raw is None else text(raw)


def track_step_job(pipe: Pipeline, keys: Keys, run_id: str, job_id: str) -> None:
    """Note the job queued for the run's current step (in the caller's transaction)."""
    pipe.hset(keys.run(run_id), "job", job_id)
    pipe.sadd(keys.active_runs, run_id)


def step_jobs(redis: Redis, keys: Keys, run_ids: list[str]) -> list[tuple[str | None, int, str | None]]:
    """(status, step, job id) of each run; status None when the run no longer exists."""
    with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), ["status", "step", "job"])
        rows = pipe.execute()
    out: list[tuple[str | None, int, str | None]] = []
    for status, step, job in rows:
        out.append((text(status) if status else None, int(step or 0), text(job) if job else None))
    return out


def set_target(redis: Redis, keys: Keys, run_id: str, target: str) -> None:
    redis.hset(keys.run(run_id), "target", target)


def set_status(pipe: Pipeline | Redis, keys: Keys, run_id: str, status: RunStatus) -> None:
    pipe.hset(keys.run(run_id), "status", status.value)


def await_approval(pipe: Pipeline, keys: Keys, run_id: str, since: float) -> None:
    """The run waits for approval of the step it is on, from ``since`` (its wait expires from then)."""
    pipe.hset(
        keys.run(run_id), mapping={"status": RunStatus.AWAITING_APPROVAL.value, "awaiting_since": since}
    )


def step_done(pipe: Pipeline, keys: Keys, run_id: str, index: int, outcome: str) -> None:
    """Record step ``index``'s outcome and move the run to the next step."""
    pipe.hset(keys.run(run_id), mapping={f"done:{index}": outcome, "step": index + 1})


def count_failure(redis: Redis, keys: Keys, run_id: str, index: int) -> int:
    """One more failed attempt of step ``index``; returns how many there have been."""
    return int(redis.hincrby(keys.run(run_id), f"failures:{index}", 1))


def approve(pipe: Pipeline, keys: Keys, run_id: str, index: int, by: str) -> None:
    pipe.hset(keys.run(run_id), mapping={f"approved:{index}": by, "status": RunStatus.RUNNING.value})


def awaiting_confirmation(redis: Redis, keys: Keys, incident_id: str) -> list[Run]:
    """An incident's runs that wait for a Run click before their first step (oldest first)."""
    return [run for run in of_incident(redis, keys, incident_id) if run.awaiting_confirmation]
