"""RQ job entry points. Thin: each builds the worker's runtime and calls the domain code."""

from __future__ import annotations

from typing import Any

from responder import runtime


def process_batch(batch_id: str) -> dict[str, int]:
    """Apply the alerts of one accepted webhook request."""
    from responder.incidents import service

    return service.process_batch(runtime.current(), batch_id)


def execute_step(run_id: str, index: int) -> str:
    """Run one playbook step."""
    from responder.playbooks import runner

    return runner.execute_step(runtime.current(), run_id, index)


def escalate(incident_id: str, level: int, token: str) -> str:
    """An escalation timer firing."""
    from responder.escalation import timers

    return timers.fire(runtime.current(), incident_id, level, token)


def paging_update(incident_id: str, kind: str, by: str | None) -> list[dict[str, Any]]:
    """After ack or resolve: edit Slack, acknowledge or resolve PagerDuty, send the email update."""
    from responder.escalation import paging
    from responder.store import incidents

    rt = runtime.current()
    incident = incidents.get(rt.redis, rt.keys, incident_id)
    return paging.update(rt.redis, rt.keys, rt.config, incident, "ack" if kind == "ack" else "resolve", by)


def approve_step(run_id: str, index: int, by: str) -> bool:
    from responder.playbooks import runner

    return runner.approve(runtime.current(), run_id, index, by)


def retention_sweep() -> int:
    from responder.store import incidents

    rt = runtime.current()
    return incidents.sweep(rt.redis, rt.keys, rt.clock())
