"""An incident's severity: the rule's, else the alert's ``severity`` label mapped to ours."""

from __future__ import annotations

from collections.abc import Mapping

from responder.config.models import Rule, Severity

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
