"""An incident's severity: the rule's, else the alert's ``severity`` label mapped to ours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from responder.config.models import Rule, Severity
from responder.routing.routes import CompiledRule, route

LABEL_SEVERITY: dict[str, Severity] = {
    "critical": "critical",
    "page": "critical",
    "error": "high",
    "high": "high",
    "warning": "medium",
    "medium": "medium",
    "info": "low",
    "low": "low",
}
"""Common ``severity`` label values (Prometheus' conventions and ours) and what they mean here."""

UNKNOWN: Severity = "high"
"""An alert without a recognisable severity label: taken seriously rather than played down."""


def severity_for(rule: Rule, labels: Mapping[str, str]) -> Severity:
    if rule.severity is not None:
        return rule.severity
    return LABEL_SEVERITY.get(labels.get("severity", "").lower(), UNKNOWN)


def any_critical(rules: Sequence[CompiledRule], alerts: Iterable[Mapping[str, object]]) -> bool:
    """Whether a firing alert among ``alerts`` would open or join a critical incident: the web puts
    such a batch ahead of the others waiting for the intake lane (a few microseconds per alert)."""
    for alert in alerts:
        if alert.get("status") != "firing":
            continue
        labels = alert.get("labels")
        if not isinstance(labels, Mapping):
            continue
        if any(severity_for(compiled.rule, labels) == "critical" for compiled in route(rules, labels)):
            return True
    return False
