"""The closed loop decided on plain values: verification, the flapping brake, automation levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from responder.config.loader import LoadedConfig
from responder.config.models import Flapping, ResponderConfig, Rule, Safety
from responder.plan import Facts, plan_alert, plan_else, plan_resolution
from responder.plan.verify import escalation_reason, next_step, verdict_of

POLICY = {"default": [["dev-team"], ["dev-team", "ops-team"]]}
LABELS = {"alertname": "WorkerDown"}
NOW = 1_800_000_000.0


def config(*rules: Rule, flapping: object = None, budget: int = 30) -> LoadedConfig:
    fields = {"max_actions_per_hour": budget, **({"flapping": flapping} if flapping is not None else {})}
    safety = Safety.model_validate(fields)
    return LoadedConfig(
        Path("."), ResponderConfig(escalation_policies=POLICY, safety=safety), list(rules), {}
    )


def rule(**fields: object) -> Rule:
    base: dict[str, object] = {
        "name": "workers",
        "matchers": ['alertname = "WorkerDown"'],
        "playbooks": ["restart_workers"],
        "notify": ["slack"],
        "escalation": {"after": "5m"},
        "group_by": ["alertname"],
    }
    return Rule.model_validate({**base, **fields})


def opens(n: int, every: float = 600.0) -> tuple[float, ...]:
    """``n`` earlier opens of the key, the last ``every`` seconds ago."""
    return tuple(NOW - every * (n - i) for i in range(n))


# -- verification -----------------------------------------------------------------------------------------


def test_a_verified_rule_opens_with_its_loop_and_pages_level_1_at_once_by_default() -> None:
    workers = rule(verify={"after": "2m", "else": ["enable_direct_processing"]})
    plan = plan_alert(config(workers), workers, LABELS, "", Facts())

    assert plan.verify is not None and plan.verify.after == 120.0
    assert plan.verify.else_ == ["enable_direct_processing"]
    assert not plan.hold_pages
    assert plan.automation.runs


def test_page_on_failure_holds_level_1_while_the_loop_runs() -> None:
    workers = rule(verify={"after": "2m", "page": "on_failure"})
    plan = plan_alert(config(workers), workers, LABELS, "", Facts())

    assert plan.verify is not None and plan.hold_pages
    assert [p.level for p in plan.pages] == [
        1,
        2,
    ]  # the levels are still the policy's, held until the verdict


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (Facts(paused=True), "automation is paused"),
        (Facts(cooldown_left=60.0), "incident key in cooldown for 1m"),
        (Facts(budget_used=30), "automation budget exhausted (30 actions/hour)"),
    ],
    ids=["paused", "cooldown", "budget"],
)
def test_nothing_is_verified_and_nobody_is_held_when_the_playbooks_do_not_run(facts: Facts, why: str) -> None:
    workers = rule(verify={"after": "2m", "page": "on_failure"})
    plan = plan_alert(config(workers), workers, LABELS, "", facts)

    assert plan.automation.held == why
    assert plan.verify is None
    assert not plan.hold_pages  # people must hear that nothing was tried


def test_a_joining_alert_starts_no_loop() -> None:
    workers = rule(verify={"after": "2m"})
    plan = plan_alert(config(workers), workers, LABELS, "", Facts(open_incident="0123456789ab"))

    assert plan.verify is None and not plan.hold_pages


def test_a_rule_without_playbooks_still_verifies_from_the_open() -> None:
    waiting = rule(playbooks=[], verify={"after": "5m", "else": ["restart_workers"], "page": "on_failure"})
    plan = plan_alert(config(waiting), waiting, LABELS, "", Facts())

    assert plan.verify is not None and plan.hold_pages
    assert plan.automation.playbooks == ()


@pytest.mark.parametrize(
    ("fingerprints", "still", "verdict"),
    [
        (["a", "b"], set(), "ok"),
        (["a", "b"], {"b"}, "failed"),
        (["a"], {"zzz"}, "ok"),
        (["a"], None, "unknown"),
    ],
)
def test_the_verdict_of_a_check(fingerprints: list[str], still: set[str] | None, verdict: str) -> None:
    assert verdict_of(fingerprints, still) == verdict


@pytest.mark.parametrize(
    ("verdict", "first", "has_else", "step"),
    [
        ("ok", True, True, "fixed"),
        ("failed", True, True, "else"),
        ("unknown", True, True, "else"),
        ("failed", True, False, "escalate"),
        ("failed", False, True, "escalate"),
        ("unknown", False, True, "escalate"),
        ("ok", False, True, "fixed"),
    ],
)
def test_after_a_check(verdict: str, first: bool, has_else: bool, step: str) -> None:
    assert next_step(verdict, first, has_else) == step  # type: ignore[arg-type]


def test_the_page_says_automation_did_not_clear_it_and_what_it_tried() -> None:
    assert escalation_reason("failed", ["restart_workers", "enable_direct_processing"]) == (
        "automation did not clear it: the alerts still fire; "
        "tried restart_workers, then enable_direct_processing"
    )
    assert escalation_reason("unknown", ["restart_workers"]).startswith(
        "automation could not be verified (Alertmanager did not answer), so it is treated as not cleared"
    )


def test_else_playbooks_respect_the_kill_switch_and_the_budget() -> None:
    workers = rule(verify={"after": "2m", "else": ["enable_direct_processing"]})
    cfg = config(workers, budget=5)

    assert plan_else(cfg, workers, Facts()).runs
    assert plan_else(cfg, workers, Facts(paused=True)).held == "automation is paused"
    assert (
        plan_else(cfg, workers, Facts(budget_used=5)).held == "automation budget exhausted (5 actions/hour)"
    )
    assert plan_else(cfg, workers, Facts(cooldown_left=600.0)).runs  # the incident's own cooldown


# -- the flapping brake -----------------------------------------------------------------------------------


def test_the_default_brake_lets_three_opens_within_an_hour_act_and_suspends_the_fourth() -> None:
    workers = rule(verify={"after": "2m", "page": "on_failure"})
    cfg = config(workers)

    third = plan_alert(cfg, workers, LABELS, "", Facts(key_opens=opens(2)))
    fourth = plan_alert(cfg, workers, LABELS, "", Facts(key_opens=opens(3)))

    assert third.flapping is None and third.automation.runs and third.flapping_window == 3600.0
    assert fourth.flapping == Flapping.model_validate({"max_opens": 3, "per": "1h"})
    assert fourth.automation.held_kind == "automation.suspended"
    assert fourth.automation.held == (
        "automation suspended: the incident key is flapping (opened 4 times within 1h (limit 3))"
    )
    assert fourth.verify is None and not fourth.hold_pages  # paged at once, even with page: on_failure
    assert fourth.key_opens == opens(3)


def test_a_key_stays_flapping_until_per_passes_with_no_open() -> None:
    workers = rule()
    cfg = config(workers)
    # Two opens in the window: under the count, but the last flapping open was 45m ago.
    plan = plan_alert(cfg, workers, LABELS, "", Facts(key_opens=opens(2), flapping_left=900.0))

    assert plan.flapping is not None
    assert plan.automation.held == (
        "automation suspended: the incident key is flapping (still flapping: it opened more than 3 times "
        "within 1h, and 1h has not passed without an open since)"
    )
    assert plan_alert(cfg, workers, LABELS, "", Facts(key_opens=opens(2))).flapping is None


def test_a_rules_own_limit_and_off_override_safety_flapping() -> None:
    strict = rule(flapping={"max_opens": 1, "per": "10m"})
    free = rule(name="free", flapping="off")
    cfg = config(strict, free)

    assert plan_alert(cfg, strict, LABELS, "", Facts(key_opens=opens(1, every=60))).flapping is not None
    assert plan_alert(cfg, free, LABELS, "", Facts(key_opens=opens(50))).flapping is None
    assert plan_alert(cfg, free, LABELS, "", Facts()).flapping_window is None


def test_safety_flapping_off_turns_the_brake_off_everywhere() -> None:
    workers = rule()
    assert (
        plan_alert(config(workers, flapping="off"), workers, LABELS, "", Facts(key_opens=opens(9))).flapping
        is None
    )


def test_a_joining_alert_is_not_an_open() -> None:
    workers = rule()
    plan = plan_alert(
        config(workers), workers, LABELS, "", Facts(open_incident="0123456789ab", key_opens=opens(9))
    )

    assert plan.flapping is None and plan.flapping_window is None


# -- automation levels ------------------------------------------------------------------------------------


def test_off_records_what_would_have_run_and_runs_nothing() -> None:
    workers = rule(automation="off", verify={"after": "2m"}, on_resolved=["resume"])
    cfg = config(workers)
    plan = plan_alert(cfg, workers, LABELS, "", Facts())

    assert not plan.automation.runs
    assert plan.automation.playbooks == ("restart_workers",)
    assert plan.automation.held_kind == "automation.off"
    assert plan.automation.held == (
        "automation is off for rule workers (automation: off); this is what would have run"
    )
    assert plan.verify is None
    assert [p.level for p in plan.pages] == [1, 2]
    assert plan_resolution(cfg, workers, Facts()).held_kind == "automation.off"


def test_confirm_creates_runs_that_wait_and_its_on_resolved_runs_only_after_a_confirmed_run() -> None:
    workers = rule(automation="confirm", on_resolved=["resume"])
    cfg = config(workers)
    plan = plan_alert(cfg, workers, LABELS, "", Facts())

    assert plan.automation.runs and plan.automation.confirm
    assert plan_resolution(cfg, workers, Facts(), confirmed=True).runs
    assert not plan_resolution(cfg, workers, Facts(), confirmed=True).confirm  # never waits after resolve
    unconfirmed = plan_resolution(cfg, workers, Facts(), confirmed=False)
    assert unconfirmed.held_kind == "playbook.not_confirmed"


def test_auto_runs_at_once() -> None:
    workers = rule()
    plan = plan_alert(config(workers), workers, LABELS, "", Facts())

    assert plan.automation.runs and not plan.automation.confirm
