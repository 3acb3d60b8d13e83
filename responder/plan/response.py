"""The response plan: for one alert and one matched rule, what happens and why.

Pure: the caller reads what the plan depends on from Redis into :class:`Facts` (the
kill switch, the incident key's cooldown, the budget used this hour, the rule's recent
opens for the storm guard, the key's recent opens for the flapping brake) and applies the
:class:`ResponsePlan`. ``responder simulate`` calls the same function with the facts of a
quiet system, so what it shows is what a run does.

Why playbooks do not run, in the order the plan asks: the storm guard, ``automation: off``,
the flapping brake, the cooldown, the kill switch, the budget. Whether people are paged at
open: yes, unless the rule verifies with ``page: on_failure`` and its playbooks are about
to run (a flapping or held open pages at once: nothing is being tried).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Flapping, Rule, Storm, Verify
from responder.escalation.schedule import plan as escalation_plan
from responder.plan import flapping as flaps
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
    key_opens: tuple[float, ...] = ()
    """When the incident key opened before, within its flapping window (oldest first)."""
    flapping_left: float = 0.0
    """Seconds the incident key stays flapping from an earlier flapping open (0: it is not)."""


@dataclass(frozen=True)
class Automation:
    """Whether playbooks run, which, and in what mode; when they do not, the reason."""

    playbooks: tuple[str, ...]
    dry_run: bool
    held: str | None = None
    """Why the playbooks do not run (the timeline says it), or None when they run."""
    held_kind: str | None = None
    """The timeline kind for ``held``: ``playbook.paused``, ``playbook.cooldown``, ``playbook.budget``,
    ``playbook.storm``, ``automation.off``, ``automation.suspended`` (flapping) or
    ``playbook.not_confirmed``."""
    confirm: bool = False
    """``automation: confirm``: each run is created waiting for a Run click before its first step."""

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
    verify: Verify | None = None
    """Set when the opened incident's playbooks will be verified: once they completed, wait
    ``verify.after`` and ask Alertmanager (docs/playbooks.md, Closing the loop)."""
    hold_pages: bool = False
    """``verify.page: on_failure`` with the loop about to run: level 1 waits for the verdict."""
    flapping: Flapping | None = None
    """Set when this open is flapping: no playbook runs and level 1 is paged at once."""
    flapping_window: float | None = None
    """Set when the open counts toward the key's flapping brake: kept for this many seconds."""
    key_opens: tuple[float, ...] = ()
    """The key's earlier opens within the flapping window (for the timeline of a flapping open)."""


def plan_alert(
    config: LoadedConfig, rule: Rule, labels: Mapping[str, str], group_key: str, facts: Facts
) -> ResponsePlan:
    """The plan for a firing alert matched by ``rule``.

    Only an alert that opens an incident starts playbooks and paging; one that joins an
    open incident is added to it. An alert that would open one beyond the rule's storm
    limit goes to the rule's storm incident instead (:mod:`responder.plan.storm`).
    """
    opens = facts.open_incident is None
    limit = storm_limit(config, rule)
    if opens and limit is not None and crosses(limit, facts.rule_opens):
        return _storm_plan(config, rule, labels, facts, limit, config.dry_run(rule))
    brake = flaps.flapping_limit(config, rule) if opens else None
    flapping = (
        brake
        if brake is not None and flaps.is_flapping(brake, facts.key_opens, facts.flapping_left)
        else None
    )
    automation = _automation(config, rule, rule.playbooks, facts, cooldown=True, flapping=flapping)
    if not opens:
        automation = Automation((), automation.dry_run)
    looped = opens and automation.held is None and flapping is None and rule.automation != "off"
    verify = rule.verify if looped else None
    return ResponsePlan(
        rule=rule,
        incident_key=incident_key(rule, labels, group_key),
        group=describe_group(rule, labels, group_key),
        severity=severity_for(rule, labels),
        opens=opens,
        automation=automation,
        pages=pages(config, rule) if opens else (),
        cooldown=rule.cooldown,
        storm_window=limit.per if opens and limit is not None else None,
        verify=verify,
        hold_pages=verify is not None and verify.page == "on_failure",
        flapping=flapping,
        flapping_window=brake.per if brake is not None else None,
        key_opens=facts.key_opens if flapping is not None else (),
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


def plan_resolution(
    config: LoadedConfig, rule: Rule, facts: Facts, *, storm: bool = False, confirmed: bool = True
) -> Automation:
    """What runs when an incident of ``rule`` resolves: its ``on_resolved`` playbooks, unless paused,
    off, a storm incident (its members ran no playbooks, so there is nothing to undo), or, with
    ``automation: confirm``, nobody confirmed a run (``confirmed`` False: nothing was done to undo)."""
    names = tuple(rule.on_resolved)
    if storm and names:
        held = "a storm incident's members ran no playbooks"
        return Automation(names, config.dry_run(rule), held, "playbook.storm")
    if rule.automation == "confirm" and not confirmed and names:
        held = "no run of the rule's playbooks was confirmed, so there is nothing to undo"
        return Automation(names, config.dry_run(rule), held, "playbook.not_confirmed")
    # on_resolved runs undo what was done; they never wait for a Run click, which would be refused
    # anyway once the incident resolved.
    automation = _automation(config, rule, rule.on_resolved, facts, cooldown=False)
    return Automation(automation.playbooks, automation.dry_run, automation.held, automation.held_kind)


def plan_else(config: LoadedConfig, rule: Rule, facts: Facts) -> Automation:
    """What runs when verification found the alerts still firing: ``verify.else``, unless paused or
    over budget; with ``automation: confirm`` they wait for a Run click too."""
    names = list(rule.verify.else_) if rule.verify is not None else []
    return _automation(config, rule, names, facts, cooldown=False)


def pages(config: LoadedConfig, rule: Rule) -> tuple[Page, ...]:
    levels = config.levels(rule)
    return tuple(
        Page(level.number, level.due_in, level.teams, tuple(rule.notify))
        for level in escalation_plan(levels, rule.escalation.after)
    )


def _automation(
    config: LoadedConfig,
    rule: Rule,
    playbooks: list[str],
    facts: Facts,
    *,
    cooldown: bool,
    flapping: Flapping | None = None,
) -> Automation:
    names = tuple(playbooks)
    dry_run = config.dry_run(rule)
    if not names:
        return Automation(names, dry_run)
    if rule.automation == "off":
        held = f"automation is off for rule {rule.name} (automation: off); this is what would have run"
        return Automation(names, dry_run, held, "automation.off")
    if flapping is not None:
        why = flaps.reason(flapping, len(facts.key_opens) + 1)
        held = f"automation suspended: the incident key is flapping ({why})"
        return Automation(names, dry_run, held, "automation.suspended")
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
    return Automation(names, dry_run, confirm=rule.automation == "confirm")
