"""The response plan: for one alert and one matched rule, what happens and why.

Pure: the caller reads what the plan depends on from Redis into :class:`Facts` (the
kill switch, the incident key's cooldown, the budget used this hour, the rule's recent
opens for the storm guard) and applies the :class:`ResponsePlan`. ``responder simulate``
calls the same function with the facts of a quiet system, so what it shows is what a run
does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Rule, Storm
from responder.escalation.schedule import plan as escalation_plan
from responder.plan.severity import severity_for
from responder.plan.storm import crosses, reason, storm_key, storm_limit
from responder.routing.routes import describe_group, incident_key


@dataclass(frozen=True)
class Facts:
    """What the plan needs to know about the world at the moment the alert is handled."""

    paused: bool = False
    """The global kill switch is on."""
    cooldown_left: float = 0.0
    """Seconds before this incident key's playbooks may run again."""
    budget_used: int | None = None
    """Actions taken this hour; None when unknown (a simulation), taken as none."""
    open_incident: str | None = None
    """Id of the open incident with this key: a firing alert joins it instead of opening one."""
    rule_opens: int = 0
    """New incidents the rule would have opened within its storm window, before this alert
    (those that went to the storm incident included)."""
    storm_incident: str | None = None
    """Id of the rule's open storm incident, if any."""


@dataclass(frozen=True)
class Automation:
    """Whether playbooks run, which, and in what mode; when they do not, the reason."""

    playbooks: tuple[str, ...]
    dry_run: bool
    held: str | None = None
    """Why the playbooks do not run (the timeline says it), or None when they run."""
    held_kind: str | None = None
    """The timeline kind for ``held``: ``playbook.paused``, ``playbook.cooldown``, ``playbook.budget``
    or ``playbook.storm``."""

    @property
    def runs(self) -> bool:
        return bool(self.playbooks) and self.held is None


@dataclass(frozen=True)
class Page:
    """One escalation level: who is told, on which channels, how long after the open."""

    level: int
    due_in: float
    teams: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True)
class ResponsePlan:
    rule: Rule
    incident_key: str
    group: dict[str, str]
    severity: str
    opens: bool
    """True: the alert opens a new incident; False: it joins :attr:`Facts.open_incident`."""
    automation: Automation
    pages: tuple[Page, ...]
    cooldown: float
    """Seconds the incident key's playbooks will not re-run once these have started."""
    storm_window: float | None = None
    """Set when the alert counts toward the rule's storm guard (it would open an incident): the
    caller records it with the open or join, kept for this many seconds."""
    storm: Storm | None = None
    """Set when the alert is beyond the rule's storm limit: it opens or joins the storm incident
    (``incident_key`` is then ``<rule>:storm``), and no playbook runs for it."""


def plan_alert(
    config: LoadedConfig, rule: Rule, labels: Mapping[str, str], group_key: str, facts: Facts
) -> ResponsePlan:
    """The plan for a firing alert matched by ``rule``.

    Only an alert that opens an incident starts playbooks and paging; one that joins an
    open incident is added to it. An alert that would open one beyond the rule's storm
    limit goes to the rule's storm incident instead (:mod:`responder.plan.storm`).
    """
    opens = facts.open_incident is None
    automation = _automation(config, rule, rule.playbooks, facts, cooldown=True)
    limit = storm_limit(config, rule)
    if opens and limit is not None and crosses(limit, facts.rule_opens):
        return _storm_plan(config, rule, labels, facts, limit, automation.dry_run)
    return ResponsePlan(
        rule=rule,
        incident_key=incident_key(rule, labels, group_key),
        group=describe_group(rule, labels, group_key),
        severity=severity_for(rule, labels),
        opens=opens,
        automation=automation if opens else Automation((), automation.dry_run),
        pages=pages(config, rule) if opens else (),
        cooldown=rule.cooldown,
        storm_window=limit.per if opens and limit is not None else None,
    )


def _storm_plan(
    config: LoadedConfig, rule: Rule, labels: Mapping[str, str], facts: Facts, limit: Storm, dry_run: bool
) -> ResponsePlan:
    opens = facts.storm_incident is None
    held = f"storm: {reason(rule.name, limit)}; its member alerts run no playbooks"
    names = tuple(rule.playbooks)
    return ResponsePlan(
        rule=rule,
        incident_key=storm_key(rule.name),
        group={"storm": rule.name},
        severity=severity_for(rule, labels),
        opens=opens,
        automation=Automation(names, dry_run, held, "playbook.storm")
        if opens and names
        else Automation((), dry_run),
        pages=pages(config, rule) if opens else (),
        cooldown=0.0,
        storm_window=limit.per,
        storm=limit,
    )


def plan_resolution(config: LoadedConfig, rule: Rule, facts: Facts, *, storm: bool = False) -> Automation:
    """What runs when an incident of ``rule`` resolves: its ``on_resolved`` playbooks, unless paused
    or it is a storm incident (its members ran no playbooks, so there is nothing to undo)."""
    if storm and rule.on_resolved:
        held = "a storm incident's members ran no playbooks"
        return Automation(tuple(rule.on_resolved), config.dry_run(rule), held, "playbook.storm")
    return _automation(config, rule, rule.on_resolved, facts, cooldown=False)


def pages(config: LoadedConfig, rule: Rule) -> tuple[Page, ...]:
    levels = config.levels(rule)
    return tuple(
        Page(level.number, level.due_in, level.teams, tuple(rule.notify))
        for level in escalation_plan(levels, rule.escalation.after)
    )


def _automation(
    config: LoadedConfig, rule: Rule, playbooks: list[str], facts: Facts, *, cooldown: bool
) -> Automation:
    names = tuple(playbooks)
    dry_run = config.dry_run(rule)
    if not names:
        return Automation(names, dry_run)
    if cooldown and facts.cooldown_left > 0:
        left = format_duration(round(facts.cooldown_left))
        return Automation(names, dry_run, f"incident key in cooldown for {left}", "playbook.cooldown")
    if facts.paused:
        return Automation(names, dry_run, "automation is paused", "playbook.paused")
    limit = config.responder.safety.max_actions_per_hour
    if facts.budget_used is not None and facts.budget_used >= limit:
        return Automation(
            names, dry_run, f"automation budget exhausted ({limit} actions/hour)", "playbook.budget"
        )
    return Automation(names, dry_run)
