"""The response plan decided on plain values: no Redis, no workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from responder.config.loader import LoadedConfig
from responder.config.models import ResponderConfig, Rule, Safety
from responder.plan import Facts, plan_alert, plan_resolution, severity_for

POLICY = {"default": [["dev-team"], ["dev-team", "ops-team"], ["dev-team", "ops-team", "management"]]}


def config(*rules: Rule, dry_run: bool = False, budget: int = 30) -> LoadedConfig:
    responder = ResponderConfig(
        escalation_policies=POLICY, safety=Safety(dry_run=dry_run, max_actions_per_hour=budget)
    )
    return LoadedConfig(Path("."), responder, list(rules), {})


def rule(**fields: object) -> Rule:
    base: dict[str, object] = {
        "name": "quota",
        "matchers": ['alertname = "Quota"'],
        "playbooks": ["throttle", "pause"],
        "notify": ["slack", "email"],
        "escalation": {"after": "2m"},
        "group_by": ["alertname"],
        "cooldown": "15m",
    }
    return Rule.model_validate({**base, **fields})


LABELS = {"alertname": "Quota", "severity": "warning"}


def test_a_new_alert_opens_runs_its_playbooks_and_pages_every_level_on_time() -> None:
    quota = rule()
    plan = plan_alert(config(quota), quota, LABELS, "{}:{}", Facts())

    assert plan.opens
    assert plan.automation.runs and plan.automation.playbooks == ("throttle", "pause")
    assert not plan.automation.dry_run
    assert [(p.level, p.due_in, p.teams, p.channels) for p in plan.pages] == [
        (1, 0.0, ("dev-team",), ("slack", "email")),
        (2, 120.0, ("dev-team", "ops-team"), ("slack", "email")),
        (3, 240.0, ("dev-team", "ops-team", "management"), ("slack", "email")),
    ]
    assert plan.cooldown == 900.0


def test_an_alert_joining_an_open_incident_starts_nothing() -> None:
    quota = rule()
    plan = plan_alert(config(quota), quota, LABELS, "{}:{}", Facts(open_incident="0123456789ab"))

    assert not plan.opens
    assert not plan.automation.runs
    assert plan.pages == ()


@pytest.mark.parametrize(
    ("facts", "kind", "reason"),
    [
        (Facts(cooldown_left=299.6), "playbook.cooldown", "incident key in cooldown for 5m"),
        (Facts(paused=True), "playbook.paused", "automation is paused"),
        (Facts(budget_used=30), "playbook.budget", "automation budget exhausted (30 actions/hour)"),
    ],
)
def test_automation_is_held_with_the_reason_and_paging_goes_on(facts: Facts, kind: str, reason: str) -> None:
    quota = rule()
    plan = plan_alert(config(quota), quota, LABELS, "{}:{}", facts)

    assert plan.opens and not plan.automation.runs
    assert (plan.automation.held_kind, plan.automation.held) == (kind, reason)
    assert len(plan.pages) == 3


def test_dry_run_is_the_rules_or_the_global_switch() -> None:
    quiet, loud = rule(name="quiet", dry_run=True), rule(name="loud")

    assert plan_alert(config(quiet, loud), quiet, LABELS, "", Facts()).automation.dry_run
    assert not plan_alert(config(quiet, loud), loud, LABELS, "", Facts()).automation.dry_run
    assert plan_alert(config(loud, dry_run=True), loud, LABELS, "", Facts()).automation.dry_run


def test_a_rule_without_channels_pages_nobody() -> None:
    silent = rule(notify=[])
    assert plan_alert(config(silent), silent, LABELS, "", Facts()).pages == ()


def test_resolution_runs_on_resolved_unless_paused_and_ignores_cooldown() -> None:
    quota = rule(on_resolved=["resume"])
    cfg = config(quota)

    assert plan_resolution(cfg, quota, Facts(cooldown_left=600)).playbooks == ("resume",)
    assert plan_resolution(cfg, quota, Facts(cooldown_left=600)).runs
    assert not plan_resolution(cfg, quota, Facts(paused=True)).runs


@pytest.mark.parametrize(
    ("label", "expected"),
    [("critical", "critical"), ("page", "critical"), ("error", "high"), ("warning", "medium"),
     ("info", "low"), ("WARNING", "medium"), ("", "high"), ("bogus", "high")],
)  # fmt: skip
def test_severity_comes_from_the_label_when_the_rule_has_none(label: str, expected: str) -> None:
    assert severity_for(rule(), {"severity": label}) == expected
    assert severity_for(rule(severity="low"), {"severity": label}) == "low"
