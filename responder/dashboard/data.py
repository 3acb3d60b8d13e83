"""What the dashboard's pages show, gathered from the stores into plain view models (one incident's
page is in :mod:`responder.dashboard.incident`).

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

from responder.actions.ratelimit import FLAG as RATE_LIMITS
from responder.config.durations import format_duration
from responder.config.models import SEVERITIES, Playbook, Rule
from responder.runtime import Runtime
from responder.scheduling import lane_depths
from responder.store import flags, guards, incidents
from responder.store.records import Incident, IncidentStatus

LIST_LIMIT = 100
"""Rows on the incident list."""
SCAN_LIMIT = 1000
"""Newest incidents the list looks through for a filter on severity, rule or "open"."""
STORM_SUFFIX = ":storm"
"""The incident key of a rule's storm incident is ``<rule>:storm`` (docs/playbooks.md, Storms)."""
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
    """The incident's markers: a storm incident, an incident opened while its key was flapping."""
    found: list[Marker] = []
    if incident.flapping:
        found.append(
            Marker(
                "flapping",
                "flapping: its key opened too often within the flapping window, so automation was "
                "suspended and level 1 was paged at once",
            )
        )
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
        if self.status not in (None, OPEN) and incident.status.value != self.status:
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
    """The newest incidents matching ``filters``, newest first.

    Every filter, status included, is applied here to the newest :data:`SCAN_LIMIT` incidents:
    the store's own status filter would read on through the whole retention to fill a page
    when few incidents have that status, every 5 seconds per open browser.
    """
    narrowed = bool(filters.query())
    limit = SCAN_LIMIT if narrowed else LIST_LIMIT
    seen = incidents.listing(rt.redis, rt.keys, None, limit)
    matching = [i for i in seen if filters.matches(i)]
    rows = [IncidentRow(i, markers(i)) for i in matching[:LIST_LIMIT]]
    names = [r.name for r in rt.config.rules]
    names += sorted({row.incident.rule for row in rows} - set(names))
    return IncidentList(rows, filters, len(seen), len(seen) >= limit and narrowed, names)


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
    """(lane, work waiting) for each lane, in the order workers serve them."""
    scheduled: int
    """Jobs waiting for their time (escalation timers, retries with backoff)."""
    storms: list[Incident]
    """Open storm incidents."""

    @property
    def budget_left(self) -> int:
        return max(self.budget_limit - self.budget_used, 0)


def automation_page(rt: Runtime) -> AutomationPage:
    now = rt.clock()
    depths, scheduled = lane_depths(rt.redis, rt.keys)
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
        queued=[(lane.value, waiting) for lane, waiting in depths.items()],
        scheduled=scheduled,
        storms=open_storms,
    )


# -- config --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    rule: Rule
    escalation: str
    """``default, after 2m`` or ``none`` when the rule pages nobody."""
    cooldown: str | None
    verify_after: str | None = None
    """``2m``: the rule's fix is checked with Alertmanager that long after its playbooks completed."""


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
        verify_after = format_duration(rule.verify.after) if rule.verify is not None else None
        views.append(RuleView(rule, paging, cooldown, verify_after))
    playbooks = [config.playbooks[name] for name in sorted(config.playbooks)]
    return ConfigPage(str(config.directory), views, playbooks, list(config.warnings))
