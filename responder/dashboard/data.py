"""What the dashboard's pages show, gathered from the stores into plain view models.

Views stay thin: each page asks one function here for one model and renders it. Nothing
here writes. Every read is bounded: the incident list looks at the newest
:data:`SCAN_LIMIT` incidents at most, whatever the filter, so a page that refreshes every
5 seconds never walks the whole retention.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rq import Queue
from rq.registry import ScheduledJobRegistry

from responder.actions.ratelimit import FLAG as RATE_LIMITS
from responder.config.durations import format_duration
from responder.config.models import SEVERITIES, Playbook, Rule
from responder.incidents import silencing
from responder.runtime import Runtime
from responder.store import flags, guards, incidents, runs
from responder.store.records import Alert, Event, Incident, IncidentStatus, Run, RunStatus

LIST_LIMIT = 100
"""Rows on the incident list."""
SCAN_LIMIT = 1000
"""Newest incidents the list looks through for a filter on severity, rule or "open"."""
STORM_SUFFIX = ":storm"
"""The incident key of a rule's storm incident is ``<rule>:storm`` (DESIGN §7 Storms)."""
OPEN = "open"
"""The status filter for "triggered or acknowledged"."""
STATUSES = (OPEN, *(s.value for s in IncidentStatus))


# -- the incident list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """Something unusual about an incident, shown as a tag on its row and its page."""

    name: str
    """Short label and CSS class: ``storm``, ``flapping``."""
    title: str
    """What it means, for the tooltip."""


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    markers: tuple[Marker, ...] = ()


def markers(incident: Incident) -> tuple[Marker, ...]:
    """The incident's markers. Flapping has no stored state yet; when it does, it is one more here."""
    found: list[Marker] = []
    if incident.key.endswith(STORM_SUFFIX):
        found.append(
            Marker(
                "storm",
                f"storm incident: rule {incident.rule} opened too many incidents, so its further "
                "alerts join this one and no playbook runs for them",
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class Filters:
    """The incident list's filters, from the query string; unknown values are dropped, not errors."""

    status: str | None = None
    severity: str | None = None
    rule: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status = args.get("status") or None
        severity = args.get("severity") or None
        rule = (args.get("rule") or "").strip()[:200] or None
        return cls(
            status if status in STATUSES else None,
            severity if severity in SEVERITIES else None,
            rule,
        )

    def query(self) -> dict[str, str]:
        """The filters as query arguments (for links and the refresh URL)."""
        return {
            k: v for k, v in (("status", self.status), ("severity", self.severity), ("rule", self.rule)) if v
        }

    def matches(self, incident: Incident) -> bool:
        if self.status == OPEN and not incident.open:
            return False
        if self.severity is not None and incident.severity != self.severity:
            return False
        return self.rule is None or incident.rule == self.rule


@dataclass(frozen=True)
class IncidentList:
    rows: list[IncidentRow]
    filters: Filters
    scanned: int
    """How many incidents were looked at."""
    capped: bool
    """True when older incidents were not looked at (the filter may match some of them)."""
    rules: list[str]
    """Rule names for the filter's choices: the loaded rules, plus any seen in the rows."""


def incident_list(rt: Runtime, filters: Filters) -> IncidentList:
    """The newest incidents matching ``filters``, newest first."""
    exact = None
    if filters.status not in (None, OPEN):
        exact = IncidentStatus(filters.status)
    narrowed = filters.status == OPEN or filters.severity is not None or filters.rule is not None
    limit = SCAN_LIMIT if narrowed else LIST_LIMIT
    seen = incidents.listing(rt.redis, rt.keys, exact, limit)
    matching = [i for i in seen if filters.matches(i)]
    rows = [IncidentRow(i, markers(i)) for i in matching[:LIST_LIMIT]]
    names = [r.name for r in rt.config.rules]
    names += sorted({row.incident.rule for row in rows} - set(names))
    return IncidentList(rows, filters, len(seen), len(seen) >= limit and narrowed, names)


# -- one incident ------------------------------------------------------------------------------------


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
        """The step a click on Approve would approve, while the run waits for one."""
        return self.run.step if self.run.status == RunStatus.AWAITING_APPROVAL else None


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
    if kind in ("incident.acknowledged", "step.approved"):
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


# -- flags ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagRow:
    name: str
    value: str
    """The value as indented JSON."""
    change: flags.FlagChange | None


@dataclass(frozen=True)
class FlagsPage:
    flags: list[FlagRow]
    profiles: dict[str, dict[str, Any]]
    active_profile: str | None
    """The profile the ``rateLimits`` flag names, if any."""
    drifted: list[str] = field(default_factory=list)
    """Settings where ``rateLimits`` differs from its named profile (someone edited the flag by hand)."""


def flags_page(rt: Runtime) -> FlagsPage:
    values = flags.all_flags(rt.redis, rt.keys)
    changes = flags.last_changes(rt.redis, rt.keys)
    rows = [FlagRow(n, json.dumps(v, indent=2, sort_keys=True), changes.get(n)) for n, v in values.items()]
    profiles = {name: dict(p) for name, p in rt.config.responder.rate_limit_profiles.items()}
    current = values.get(RATE_LIMITS)
    active = current.get("profile") if isinstance(current, dict) else None
    drifted: list[str] = []
    if isinstance(current, dict) and isinstance(active, str) and active in profiles:
        wanted = profiles[active]
        drifted = sorted(k for k in {*wanted, *current} - {"profile"} if wanted.get(k) != current.get(k))
    return FlagsPage(rows, profiles, active if isinstance(active, str) else None, drifted)


# -- automation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutomationPage:
    paused: bool
    dry_run: bool
    budget_used: int
    budget_limit: int
    hour_left: float
    """Seconds until this hour's budget starts afresh."""
    queued: list[tuple[str, int]]
    """(queue, jobs waiting) for each queue workers serve."""
    scheduled: int
    """Jobs waiting for their time (escalation timers, retries with backoff)."""
    storms: list[Incident]
    """Open storm incidents."""

    @property
    def budget_left(self) -> int:
        return max(self.budget_limit - self.budget_used, 0)


def automation_page(rt: Runtime) -> AutomationPage:
    now = rt.clock()
    # One queue today; with lanes this becomes one entry per lane, in the order workers serve them.
    queue = Queue(rt.keys.queue_name, connection=rt.redis)
    open_storms = [
        i
        for i in incidents.listing(rt.redis, rt.keys, None, SCAN_LIMIT)
        if i.open and i.key.endswith(STORM_SUFFIX)
    ]
    return AutomationPage(
        paused=guards.is_paused(rt.redis, rt.keys),
        dry_run=rt.config.dry_run(),
        budget_used=guards.budget_used(rt.redis, rt.keys, now),
        budget_limit=rt.config.responder.safety.max_actions_per_hour,
        hour_left=3600 - now % 3600,
        queued=[(queue.name, queue.count)],
        scheduled=ScheduledJobRegistry(queue=queue).count,
        storms=open_storms,
    )


# -- config --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    rule: Rule
    escalation: str
    """``default, after 2m`` or ``none`` when the rule pages nobody."""
    cooldown: str | None


@dataclass(frozen=True)
class ConfigPage:
    directory: str
    rules: list[RuleView]
    playbooks: list[Playbook]
    warnings: list[str]


def config_page(rt: Runtime) -> ConfigPage:
    config = rt.config
    views = []
    for rule in config.rules:
        paging = (
            f"{rule.escalation.policy}, every {format_duration(rule.escalation.after)}"
            if rule.notify
            else "none (no notify channels)"
        )
        cooldown = format_duration(rule.cooldown) if rule.cooldown else None
        views.append(RuleView(rule, paging, cooldown))
    playbooks = [config.playbooks[name] for name in sorted(config.playbooks)]
    return ConfigPage(str(config.directory), views, playbooks, list(config.warnings))
