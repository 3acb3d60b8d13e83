"""What one incident's page shows: its alerts, each playbook run step by step, the timeline, and
which buttons apply. Read-only, like :mod:`responder.dashboard.data`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from responder.config.models import Playbook
from responder.dashboard.data import Marker, markers
from responder.incidents import silencing
from responder.runtime import Runtime
from responder.store import incidents, runs
from responder.store.records import Alert, Event, Incident, IncidentStatus, Run, RunStatus


@dataclass(frozen=True)
class StepView:
    index: int
    action: str
    params: str
    """The step's ``with:`` as written in the playbook (templates unrendered), as JSON."""
    state: str
    """``ok``, ``skipped``, ``failed`` (recorded), or ``running``, ``awaiting approval``,
    ``pending``, ``not run``, ``cancelled``."""
    requires_approval: bool = False
    approved_by: str | None = None
    failed_attempts: int = 0


@dataclass(frozen=True)
class RunView:
    run: Run
    steps: list[StepView]

    @property
    def waiting_step(self) -> int | None:
        """The step a click on Approve would approve, while the run waits for one (not a Run click)."""
        if self.run.status != RunStatus.AWAITING_APPROVAL or self.waiting_confirmation:
            return None
        return self.run.step

    @property
    def waiting_confirmation(self) -> bool:
        """The run waits for a Run click before its first step (``automation: confirm``)."""
        return self.run.awaiting_confirmation

    @property
    def trigger(self) -> str:
        """When the run started, in words."""
        return {"resolved": "on resolve", "else": "after a failed verification"}.get(
            self.run.trigger, "on open"
        )


@dataclass(frozen=True)
class Entry:
    """One timeline line, with who did it and how it should look."""

    event: Event
    by: str | None
    tone: str
    """``bad``, ``good``, ``ack`` or ``info``: the colour of the line."""


@dataclass(frozen=True)
class IncidentPage:
    incident: Incident
    markers: tuple[Marker, ...]
    alerts: list[Alert]
    timeline: list[Entry]
    runs: list[RunView]
    silenced_by: str | None = None
    """Who silenced it from Slack or the dashboard within the last hour (a second click changes nothing)."""

    @property
    def can_ack(self) -> bool:
        return self.incident.status == IncidentStatus.TRIGGERED

    @property
    def can_resolve(self) -> bool:
        return self.incident.open

    @property
    def can_silence(self) -> bool:
        return self.incident.open and self.silenced_by is None


_BAD = (".failed", ".unreached", ".unknown", ".timeout", ".suspended")
_GOOD = ("incident.resolved", "step.ok", "playbook.completed", "verify.ok", "silence.created")


def tone(kind: str) -> str:
    if kind.endswith(_BAD):
        return "bad"
    if kind in _GOOD:
        return "good"
    if kind in ("incident.acknowledged", "step.approved", "run.confirmed"):
        return "ack"
    return "info"


def incident_page(rt: Runtime, incident_id: str) -> IncidentPage:
    """Everything about one incident.

    Raises:
        IncidentNotFound: no such incident.
    """
    redis, keys = rt.redis, rt.keys
    incident = incidents.get(redis, keys, incident_id)
    timeline = incidents.timeline(redis, keys, incident_id)
    entries = [Entry(e, _by(e.details), tone(e.kind)) for e in timeline]
    run_ids = [e.details["run"] for e in timeline if e.kind == "playbook.started" and "run" in e.details]
    views = []
    for run_id in dict.fromkeys(run_ids):  # in start order, once each
        run = runs.load(redis, keys, str(run_id))
        if run is not None:
            views.append(RunView(run, _steps(run, rt.config.playbooks.get(run.playbook))))
    alerts = sorted(incidents.alerts(redis, keys, incident_id), key=lambda a: (not a.firing, a.starts_at))
    return IncidentPage(
        incident, markers(incident), alerts, entries, views, silencing.silenced_by(redis, keys, incident_id)
    )


def _by(details: Mapping[str, Any]) -> str | None:
    by = details.get("by")
    return str(by) if by is not None else None


def _steps(run: Run, playbook: Playbook | None) -> list[StepView]:
    """Each step of the run's playbook with its state. A playbook since removed from the config shows
    only the steps the run recorded."""
    if playbook is None:
        return [
            StepView(i, "?", "", outcome, approved_by=run.approved.get(i))
            for i, outcome in sorted(run.done.items())
        ]
    out = []
    for index, step in enumerate(playbook.steps):
        out.append(
            StepView(
                index,
                step.action,
                json.dumps(step.with_, sort_keys=True, default=str),
                _state(run, index),
                step.requires_approval,
                run.approved.get(index),
                run.failures.get(index, 0),
            )
        )
    return out


_AT_STEP = {
    RunStatus.RUNNING: "running",
    RunStatus.AWAITING_APPROVAL: "awaiting approval",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.SKIPPED: "not run",
    RunStatus.COMPLETED: "not run",
}


def _state(run: Run, index: int) -> str:
    if index in run.done:
        return run.done[index]
    if index == run.step:
        return _AT_STEP[run.status]
    return "not run" if run.status.finished else "pending"
