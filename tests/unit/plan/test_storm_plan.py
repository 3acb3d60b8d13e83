"""The storm guard decided on plain values: which alert opens its own incident, which goes to the storm."""

from __future__ import annotations

from pathlib import Path

import pytest

from responder.config.loader import LoadedConfig
from responder.config.models import ResponderConfig, Rule, Safety, Storm
from responder.plan import Facts, plan_alert, plan_resolution, storm_limit

POLICY = {"default": [["dev-team"], ["dev-team", "ops-team"]]}
LABELS = {"alertname": "WorkerDown", "instance": "w-17"}


def config(*rules: Rule, storm: object = None) -> LoadedConfig:
    safety = Safety() if storm is None else Safety.model_validate({"storm": storm})
    return LoadedConfig(
        Path("."), ResponderConfig(escalation_policies=POLICY, safety=safety), list(rules), {}
    )


def limit(max_incidents: int, per: str) -> Storm:
    return Storm.model_validate({"max_incidents": max_incidents, "per": per})


def rule(**fields: object) -> Rule:
    base: dict[str, object] = {
        "name": "worker_down",
        "matchers": ['alertname = "WorkerDown"'],
        "playbooks": ["restart"],
        "on_resolved": ["restore"],
        "notify": ["slack"],
        "group_by": ["instance"],
        "storm": {"max_incidents": 5, "per": "10m"},
    }
    return Rule.model_validate({**base, **fields})


def test_up_to_the_limit_an_alert_opens_its_own_incident_and_counts_toward_the_window() -> None:
    r = rule()
    plan = plan_alert(config(r), r, LABELS, "{}:{}", Facts(rule_opens=4))

    assert plan.opens and plan.storm is None
    assert plan.incident_key.startswith("worker_down:") and plan.incident_key != "worker_down:storm"
    assert plan.automation.runs and plan.automation.playbooks == ("restart",)
    assert plan.storm_window == 600.0


def test_the_alert_that_crosses_the_limit_opens_the_storm_incident_which_pages_but_runs_nothing() -> None:
    r = rule()
    plan = plan_alert(config(r), r, LABELS, "{}:{}", Facts(rule_opens=5))

    assert plan.opens and plan.storm == limit(5, "10m")
    assert plan.incident_key == "worker_down:storm"
    assert plan.group == {"storm": "worker_down"}
    assert not plan.automation.runs
    assert plan.automation.held_kind == "playbook.storm"
    assert plan.automation.held == (
        "storm: more than 5 new incidents of rule worker_down within 10m; its member alerts run no playbooks"
    )
    assert [p.level for p in plan.pages] == [1, 2]
    assert plan.cooldown == 0.0


def test_later_alerts_join_the_open_storm_incident_without_paging() -> None:
    r = rule()
    plan = plan_alert(config(r), r, LABELS, "{}:{}", Facts(rule_opens=40, storm_incident="0123456789ab"))

    assert not plan.opens and plan.incident_key == "worker_down:storm"
    assert plan.pages == () and not plan.automation.runs
    assert plan.storm_window == 600.0  # a member counts too: a storm that goes on stays one incident


def test_an_alert_of_an_open_incident_joins_it_whatever_the_storm() -> None:
    r = rule()
    plan = plan_alert(config(r), r, LABELS, "{}:{}", Facts(rule_opens=40, open_incident="0123456789ab"))

    assert not plan.opens and plan.storm is None and plan.storm_window is None


@pytest.mark.parametrize(
    ("rule_storm", "safety_storm", "wanted"),
    [
        (None, None, limit(25, "10m")),  # the default
        (None, {"max_incidents": 3, "per": "1m"}, limit(3, "1m")),
        ({"max_incidents": 50, "per": "5m"}, "off", limit(50, "5m")),
        ("off", None, None),
        (False, None, None),  # YAML's bare `off`
        (None, False, None),
    ],
)
def test_the_rule_limit_overrides_safety_storm(
    rule_storm: object, safety_storm: object, wanted: object
) -> None:
    r = rule(storm=rule_storm)
    assert storm_limit(config(r, storm=safety_storm), r) == wanted


def test_with_the_guard_off_every_new_alert_opens_an_incident() -> None:
    r = rule(storm="off")
    plan = plan_alert(config(r), r, LABELS, "{}:{}", Facts(rule_opens=10_000))

    assert plan.opens and plan.storm is None and plan.automation.runs
    assert plan.storm_window is None  # nothing to count


def test_a_resolving_storm_incident_runs_no_on_resolved_playbooks() -> None:
    r = rule()
    automation = plan_resolution(config(r), r, Facts(), storm=True)
    assert not automation.runs and automation.held_kind == "playbook.storm"
    assert plan_resolution(config(r), r, Facts()).runs
