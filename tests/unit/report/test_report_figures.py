"""The report's arithmetic and the digest's clock, on plain values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from responder.config.models import Digest
from responder.report.build import change_percent, summarize
from responder.report.digest import latest_slot

BERLIN = ZoneInfo("Europe/Berlin")


def test_summary_counts_rules_and_teams_and_shares() -> None:
    totals = {
        "opened": 4, "acknowledged": 2, "resolved": 4, "auto_remediated": 1,
        "rule:quota:incidents": 3, "rule:quota:steps_ok": 3, "rule:quota:steps_failed": 1,
        "rule:quota:verify_ok": 1, "rule:quota:verify_failed": 1, "team:ops-team:pages": 5,
    }  # fmt: skip
    tta, ttr = {"median": 120.0, "p90": 180.0}, {"median": 600.0, "p90": 600.0}
    report = summarize(totals, tta, ttr, since=0.0, until=3600.0, rules=["quota", "idle"])

    assert report["auto_remediated_share"] == 0.25
    assert report["mtta_seconds"] == {"median": 120.0, "p90": 180.0}
    [idle, quota] = report["rules"]
    assert idle["name"] == "idle" and idle["incidents"] == 0 and idle["step_success_rate"] is None
    assert quota["step_success_rate"] == 0.75
    assert quota["verification"] == {"ok": 1, "failed": 1, "unknown": 0, "success_rate": 0.5}
    assert report["teams"] == [{"name": "ops-team", "pages": 5}]
    assert report["window"] == {"since": "1970-01-01T00:00:00.000Z", "until": "1970-01-01T01:00:00.000Z"}


def test_change_percent_is_null_without_a_base() -> None:
    none = {"median": None, "p90": None}
    now = summarize(
        {"opened": 3, "resolved": 2, "auto_remediated": 1}, {"median": 30.0}, none, since=0, until=1
    )
    before = summarize({"opened": 4}, {"median": 60.0}, none, since=0, until=1)
    moved = change_percent(now, before)
    assert moved["incidents.opened"] == -25.0
    assert moved["mtta_seconds.median"] == -50.0
    assert moved["incidents.resolved"] is None  # nothing resolved before: no base to compare with
    assert moved["mttr_seconds.median"] is None


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


@pytest.mark.parametrize(
    ("now", "slot"),
    [("2026-12-07 09:00", "2026-12-07 09:00"), ("2026-12-07 12:59", "2026-12-07 09:00"),
     ("2026-12-07 18:30", "2026-12-07 18:00"), ("2026-12-07 08:00", "2026-12-06 18:00"),
     ("2026-03-29 09:30", "2026-03-29 09:00")],  # the night clocks go forward
)  # fmt: skip
def test_the_latest_slot_is_in_the_digests_time_zone(now: str, slot: str) -> None:
    digest = Digest(at=["09:00", "13:00", "18:00"], timezone="Europe/Berlin")
    assert latest_slot(digest, at(now)) == at(slot)
