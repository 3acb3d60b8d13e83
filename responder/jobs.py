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


def escalate(incident_id: str, level: int, token: str, due_at: float | None = None) -> str:
    """An escalation timer firing."""
    from responder.escalation import timers

    return timers.fire(runtime.current(), incident_id, level, token, due_at)


def paging_update(incident_id: str, kind: str, by: str | None) -> list[dict[str, Any]]:
    """After ack or resolve: edit Slack, acknowledge or resolve PagerDuty, send the email update."""
    from responder.escalation import paging
    from responder.store import incidents

    rt = runtime.current()
    incident = incidents.get(rt.redis, rt.keys, incident_id)
    return paging.update(rt.redis, rt.keys, rt.config, incident, "ack" if kind == "ack" else "resolve", by)


SLACK_SILENCE = 3600.0
"""Seconds the Slack "Silence 1h" button silences for."""


def slack_action(action_id: str, value: str, user: str) -> str:
    """A verified Slack button click (``POST /slack/interactions``), done off the request.

    A second click changes nothing more: ack and resolve only move forward, a silence is
    claimed once per incident, and an approval only approves a step still waiting.
    """
    from responder.actions import alertmanager
    from responder.incidents import service
    from responder.notify.slack_interactions import SlackAction
    from responder.playbooks import runner

    rt = runtime.current()
    click = SlackAction(action_id=action_id, value=value, user_id=user, user_name=user)
    if action_id == "ack":
        return "acknowledged" if service.acknowledge(rt, value, by=user) else "unchanged"
    if action_id == "resolve":
        return "resolved" if service.resolve(rt, value, by=user, reason="resolved in Slack") else "unchanged"
    if action_id == "silence_1h":
        ids = alertmanager.silence_incident(rt.redis, rt.keys, value, SLACK_SILENCE, user)
        return f"silenced {', '.join(ids)}" if ids else "unchanged"
    if action_id == "approve" and click.approval is not None:
        run_id, index = click.approval
        return "approved" if runner.approve(rt, run_id, index, user) else "unchanged"
    return f"ignored unknown action {action_id}"
