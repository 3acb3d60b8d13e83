"""Which rules an alert matches, and which incident it belongs to. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from responder.config.models import Rule
from responder.routing.matchers import Matcher, parse_matcher


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    matchers: tuple[Matcher, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


def compile_rules(rules: Sequence[Rule]) -> list[CompiledRule]:
    """Parse every rule's matchers once (the config check has already validated them)."""
    return [CompiledRule(rule, tuple(parse_matcher(m) for m in rule.matchers)) for rule in rules]


def route(rules: Sequence[CompiledRule], labels: Mapping[str, str]) -> list[CompiledRule]:
    """Rules that take this alert, in order: the first match wins unless it says ``continue: true``."""
    matched: list[CompiledRule] = []
    for compiled in rules:
        if compiled.matches(labels):
            matched.append(compiled)
            if not compiled.rule.continue_:
                break
    return matched


def incident_key(rule: Rule, labels: Mapping[str, str], group_key: str) -> str:
    """Rule name plus the ``group_by`` label values, or Alertmanager's groupKey by default.

    Hashed after the rule name so keys are short and safe in Redis key names whatever
    the label values hold.
    """
    if rule.group_by is None:
        material = "groupKey\x00" + group_key
    else:
        # JSON, not a joined string: label values may hold any character, and a value holding
        # the separator would otherwise make two different groups share one incident.
        material = json.dumps([[name, labels.get(name, "")] for name in rule.group_by])
    return f"{rule.name}:{hashlib.sha256(material.encode()).hexdigest()[:16]}"


def describe_group(rule: Rule, labels: Mapping[str, str], group_key: str) -> dict[str, str]:
    """The human-readable side of :func:`incident_key`, kept on the incident."""
    if rule.group_by is None:
        return {"groupKey": group_key}
    return {name: labels.get(name, "") for name in rule.group_by}
