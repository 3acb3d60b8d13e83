"""The dashboard's pure pieces: list filters, markers, timeline tones, which links may be links."""

from __future__ import annotations

import pytest

from responder.dashboard.blueprint import safe_link
from responder.dashboard.data import Filters, markers
from responder.dashboard.incident import tone
from responder.store.records import Incident, IncidentStatus


def incident(key: str = "api_quota:ab12", status: IncidentStatus = IncidentStatus.TRIGGERED) -> Incident:
    return Incident(
        id="0123456789ab",
        key=key,
        rule="api_quota",
        severity="critical",
        status=status,
        title="APIQuotaExhaustion",
        summary="",
        labels={},
        annotations={},
        group={},
        created_at=0.0,
        updated_at=0.0,
    )


def test_filters_keep_known_values_and_drop_the_rest() -> None:
    assert Filters.from_args({"status": "open", "severity": "high", "rule": " api_quota "}) == Filters(
        "open", "high", "api_quota"
    )
    assert Filters.from_args({"status": "closed", "severity": "sev1", "rule": ""}) == Filters()
    assert Filters.from_args({"rule": "x" * 1000}).rule == "x" * 200


def test_the_open_filter_matches_triggered_and_acknowledged_only() -> None:
    open_only = Filters(status="open")

    assert open_only.matches(incident(status=IncidentStatus.TRIGGERED))
    assert open_only.matches(incident(status=IncidentStatus.ACKNOWLEDGED))
    assert not open_only.matches(incident(status=IncidentStatus.RESOLVED))
    assert not Filters(severity="low").matches(incident())
    assert not Filters(rule="other").matches(incident())


def test_a_storm_incident_is_marked_and_others_are_not() -> None:
    [storm] = markers(incident(key="api_quota:storm"))

    assert storm.name == "storm"
    assert "api_quota" in storm.title
    assert markers(incident(key="api_quota:ab12")) == ()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("step.failed", "bad"),
        ("escalation.unreached", "bad"),
        ("verify.unknown", "bad"),
        ("step.ok", "good"),
        ("incident.resolved", "good"),
        ("incident.acknowledged", "ack"),
        ("escalation.level", "info"),
    ],
)
def test_timeline_tones(kind: str, expected: str) -> None:
    assert tone(kind) == expected


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("http://prometheus:9090/graph?g0.expr=up", True),
        ("https://grafana.example/d/abc", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("http://[::1", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_links_become_links(url: str | None, linked: bool) -> None:
    assert (safe_link(url) is not None) is linked
