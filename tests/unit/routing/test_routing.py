"""Which rules take an alert, and which incident it joins (Alertmanager's routing semantics)."""

from __future__ import annotations

from typing import Any

from responder.config.models import Rule
from responder.routing.routes import CompiledRule, compile_rules, describe_group, incident_key, route

GROUP_KEY = '{}:{alertname="QueueDepthHigh"}'


def rule(name: str, *matchers: str, **fields: Any) -> Rule:
    """A rule as written in rules/*.yaml (``continue``, not ``continue_``)."""
    return Rule.model_validate({"name": name, "matchers": list(matchers), **fields})


def names(matched: list[CompiledRule]) -> list[str]:
    return [c.rule.name for c in matched]


def labels(**values: str) -> dict[str, str]:
    return {"alertname": "QueueDepthHigh", "severity": "critical", **values}


def test_first_matching_rule_wins() -> None:
    rules = compile_rules(
        [
            rule("other_alert", 'alertname="WorkerDown"'),
            rule("queue_critical", 'alertname="QueueDepthHigh"', 'severity="critical"'),
            rule("queue_any", 'alertname="QueueDepthHigh"'),
        ]
    )

    assert names(route(rules, labels())) == ["queue_critical"]
    assert names(route(rules, labels(severity="warning"))) == ["queue_any"]


def test_continue_lets_later_rules_match_too() -> None:
    rules = compile_rules(
        [
            rule("audit_everything", 'alertname=~".+"', **{"continue": True}),
            rule("not_this_one", 'alertname="WorkerDown"'),
            rule("queue_restart", 'alertname="QueueDepthHigh"'),
            rule("queue_never", 'alertname="QueueDepthHigh"'),
        ]
    )

    assert names(route(rules, labels())) == ["audit_everything", "queue_restart"]


def test_continue_chains_until_a_rule_without_it() -> None:
    rules = compile_rules(
        [
            rule("a", 'alertname="QueueDepthHigh"', **{"continue": True}),
            rule("b", 'alertname="QueueDepthHigh"', **{"continue": True}),
            rule("c", 'alertname="QueueDepthHigh"'),
            rule("d", 'alertname="QueueDepthHigh"'),
        ]
    )

    assert names(route(rules, labels())) == ["a", "b", "c"]


def test_continue_on_the_last_match_takes_nothing_else() -> None:
    rules = compile_rules(
        [
            rule("only", 'alertname="QueueDepthHigh"', **{"continue": True}),
            rule("x", 'alertname="WorkerDown"'),
        ]
    )

    assert names(route(rules, labels())) == ["only"]


def test_alert_matching_no_rule_routes_nowhere() -> None:
    rules = compile_rules([rule("workers", 'alertname="WorkerDown"')])

    assert route(rules, labels()) == []


def test_every_matcher_of_a_rule_must_match() -> None:
    rules = compile_rules([rule("prod_queue", 'alertname="QueueDepthHigh"', 'env!~"dev|staging"')])

    assert names(route(rules, labels(env="prod"))) == ["prod_queue"]
    assert route(rules, labels(env="staging")) == []
    # Regexes are anchored: "dev|staging" does not refuse "development".
    assert names(route(rules, labels(env="development"))) == ["prod_queue"]


# --- incident keys ----------------------------------------------------------------------------


def test_without_group_by_the_incident_key_is_alertmanagers_group_key() -> None:
    by_group = rule("queue", 'alertname="QueueDepthHigh"')

    one = incident_key(by_group, labels(instance="a"), GROUP_KEY)
    # Other labels do not matter: Alertmanager already grouped these alerts together.
    assert incident_key(by_group, labels(instance="b"), GROUP_KEY) == one
    assert incident_key(by_group, labels(instance="a"), '{}:{alertname="Other"}') != one
    assert describe_group(by_group, labels(), GROUP_KEY) == {"groupKey": GROUP_KEY}


def test_group_by_labels_decide_the_incident_key() -> None:
    by_cluster = rule("queue", 'alertname="QueueDepthHigh"', group_by=["alertname", "cluster"])

    one = incident_key(by_cluster, labels(cluster="eu-1", instance="a"), GROUP_KEY)

    assert incident_key(by_cluster, labels(cluster="eu-1", instance="b"), "another group") == one
    assert incident_key(by_cluster, labels(cluster="us-1", instance="a"), GROUP_KEY) != one
    assert describe_group(by_cluster, labels(cluster="eu-1"), GROUP_KEY) == {
        "alertname": "QueueDepthHigh",
        "cluster": "eu-1",
    }


def test_same_labels_give_the_same_key_every_time() -> None:
    by_cluster = rule("queue", 'alertname="QueueDepthHigh"', group_by=["cluster"])
    rebuilt = rule("queue", 'alertname="QueueDepthHigh"', group_by=["cluster"])

    assert incident_key(by_cluster, labels(cluster="eu-1"), GROUP_KEY) == incident_key(
        rebuilt, {"cluster": "eu-1"}, GROUP_KEY
    )


def test_incident_key_names_its_rule_so_two_rules_never_share_an_incident() -> None:
    first = rule("queue_restart", 'alertname="QueueDepthHigh"', group_by=["alertname"])
    second = rule("queue_audit", 'alertname="QueueDepthHigh"', group_by=["alertname"])

    key = incident_key(first, labels(), GROUP_KEY)

    assert key.startswith("queue_restart:")
    assert key != incident_key(second, labels(), GROUP_KEY)


def test_label_values_cannot_forge_another_groups_key() -> None:
    # A value holding a separator must not make two different groups one incident.
    grouped = rule("r", 'alertname="QueueDepthHigh"', group_by=["x", "y"])

    forged = incident_key(grouped, {"x": "1\x00y=2", "y": "3"}, GROUP_KEY)

    assert forged != incident_key(grouped, {"x": "1", "y": "2\x00y=3"}, GROUP_KEY)
    assert incident_key(grouped, {"x": "1,2", "y": ""}, GROUP_KEY) != incident_key(
        grouped, {"x": "1", "y": "2"}, GROUP_KEY
    )
