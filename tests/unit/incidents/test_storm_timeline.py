"""Which member alerts of a storm get a line in its timeline: the first 20 each, then every power of ten."""

from __future__ import annotations

from responder.incidents.storms import member_event
from responder.store.records import Alert, AlertStatus

ALERT = Alert(AlertStatus.FIRING, {"alertname": "WorkerDown"}, {}, "2026-11-28T10:00:00Z", "", "", "fp1")


def test_the_first_twenty_members_are_listed_then_only_counted_at_powers_of_ten() -> None:
    lines = {n: member_event(ALERT, n, 0.0) for n in range(1, 10_001)}
    listed = [n for n, e in lines.items() if e is not None and e.kind == "storm.member"]
    counted = [n for n, e in lines.items() if e is not None and e.kind == "storm.count"]

    assert listed == list(range(1, 21))
    assert counted == [21, 100, 1000, 10_000]
    assert lines[5] is not None and lines[5].message == "alert WorkerDown joined the storm (member 5)"
    assert lines[100] is not None and lines[100].message == (
        "100 member alerts so far; after the first 20 they are counted, not listed"
    )
