"""The records the responder keeps: incidents, their alerts and timelines, playbook runs.

These are plain typed values. :mod:`responder.store.incidents` and
:mod:`responder.store.runs` own how they are encoded in Redis; everything else passes
these types around, never raw hashes. ``public()`` gives the JSON the HTTP API shows.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from responder.clock import iso


class IncidentStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """Never started: the same playbook was already running on the same target."""

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Alertmanager sent it (webhook version 4), in its latest known state."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    generator_url: str
    fingerprint: str

    @classmethod
    def from_webhook(cls, data: Mapping[str, Any]) -> Alert:
        """From Alertmanager's field names (``startsAt``, ``generatorURL``...)."""
        return cls(
            status=AlertStatus(data.get("status") or AlertStatus.FIRING),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (data.get("annotations") or {}).items()},
            starts_at=str(data.get("startsAt") or ""),
            ends_at=str(data.get("endsAt") or ""),
            generator_url=str(data.get("generatorURL") or ""),
            fingerprint=str(data.get("fingerprint") or ""),
        )

    def to_webhook(self) -> dict[str, Any]:
        """Back to Alertmanager's field names: what the API shows and templates see."""
        return {
            "status": self.status.value,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }

    @property
    def name(self) -> str:
        return self.labels.get("alertname") or self.fingerprint or "alert"

    @property
    def firing(self) -> bool:
        return self.status == AlertStatus.FIRING


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    """12 lowercase hex digits."""
    key: str
    """The rule name plus a hash of the group: alerts with the same key join one open incident."""
    rule: str
    severity: str
    status: IncidentStatus
    title: str
    summary: str
    labels: dict[str, str]
    """The labels of the alert that opened it."""
    annotations: dict[str, str]
    """The annotations of the alert that opened it (summary, description, runbook_url...)."""
    group: dict[str, str]
    """The readable side of the key: the ``group_by`` label values, or Alertmanager's groupKey."""
    created_at: float
    updated_at: float
    generator_url: str | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    auto_remediated: bool = False
    """Resolved by automation: verified fixed, or every run completed and Alertmanager resolved it unacked."""
    storm_members: int = 0
    """For a storm incident (key ``<rule>:storm``): how many alerts joined it, the first included."""
    flapping: bool = False
    """Opened while its key was flapping (docs/playbooks.md): no playbook ran, level 1 was paged at once."""

    @property
    def open(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    def public(self) -> dict[str, Any]:
        """The API's JSON for the incident (times as RFC 3339, absent fields left out)."""
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "rule": self.rule,
            "severity": self.severity,
            "status": self.status.value,
            "title": self.title,
            "summary": self.summary,
            "labels": self.labels,
            "annotations": self.annotations,
            "group": self.group,
        }
        if self.generator_url:
            out["generator_url"] = self.generator_url
        out["created_at"] = iso(self.created_at)
        out["updated_at"] = iso(self.updated_at)
        for name in ("acknowledged", "resolved"):
            at, by = getattr(self, f"{name}_at"), getattr(self, f"{name}_by")
            if at is not None:
                out[f"{name}_at"] = iso(at)
            if by is not None:
                out[f"{name}_by"] = by
        if self.status == IncidentStatus.RESOLVED:
            out["auto_remediated"] = self.auto_remediated
        if self.storm_members:
            out["storm"] = {"members": self.storm_members}
        if self.flapping:
            out["flapping"] = True
        return out


@dataclass(frozen=True, slots=True)
class Event:
    """One line of an incident's timeline. ``details`` must already be free of secrets."""

    at: float
    kind: str
    """Dotted: ``incident.opened``, ``step.ok``, ``escalation.level``..."""
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": iso(self.at), "kind": self.kind, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


@dataclass(slots=True)
class Run:
    """One run of a playbook for an incident: the step it is on and what each step did."""

    id: str
    incident_id: str
    playbook: str
    alert: Alert
    """The alert the run acts for (its templates render against it)."""
    trigger: str
    """``firing`` (the rule's playbooks) or ``resolved`` (``on_resolved``)."""
    dry_run: bool
    status: RunStatus
    step: int
    """Index of the step it is on (or past the last when completed)."""
    created_at: float
    lane: str = "high"
    """The lane its step jobs wait in: its incident's severity (:func:`responder.scheduling.step_lane`)."""
    target: str | None = None
    """What the run acts on (see :func:`responder.store.guards.playbook_target`), set by its first step."""
    done: dict[int, str] = field(default_factory=dict)
    """Step index -> outcome (``ok``, ``skipped``, ``failed``)."""
    approved: dict[int, str] = field(default_factory=dict)
    """Step index -> who approved it."""
    failures: dict[int, int] = field(default_factory=dict)
    """Step index -> failed attempts so far."""
    awaiting_since: float | None = None
    """When the run began waiting for approval of the step it is on (approvals expire)."""
    confirm: bool = False
    """Created waiting for a Run click before its first step (``automation: confirm``)."""

    @property
    def awaiting_confirmation(self) -> bool:
        """It waits for the Run click that starts it (its first step, not yet approved)."""
        return (
            self.confirm
            and self.status == RunStatus.AWAITING_APPROVAL
            and self.step == 0
            and 0 not in self.approved
        )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "playbook": self.playbook,
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "status": self.status.value,
            "step": self.step,
            "created_at": iso(self.created_at),
            "done": {str(k): v for k, v in sorted(self.done.items())},
            "approved": {str(k): v for k, v in sorted(self.approved.items())},
            **({"confirm": True} if self.confirm else {}),
        }
