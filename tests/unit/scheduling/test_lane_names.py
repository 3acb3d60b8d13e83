"""Lane names as operators type them, and which lane a step waits in. Pure."""

from __future__ import annotations

import pytest

from responder.scheduling import Lane, parse_lanes, step_lane


def test_lanes_are_served_in_the_fixed_order_whatever_order_they_are_given_in() -> None:
    assert parse_lanes("low, control,intake,low") == (Lane.CONTROL, Lane.INTAKE, Lane.LOW)


def test_an_unknown_lane_is_refused_with_the_list_of_lanes() -> None:
    with pytest.raises(ValueError, match=r"^unknown lane 'urgent': lanes are control, intake, critical"):
        parse_lanes("control,urgent")


@pytest.mark.parametrize(
    ("severity", "lane"),
    [("critical", Lane.CRITICAL), ("low", Lane.LOW), ("control", Lane.HIGH), ("weird", Lane.HIGH)],
)
def test_a_step_waits_in_its_incidents_severity_lane_and_never_in_control(severity: str, lane: Lane) -> None:
    assert step_lane(severity) == lane
