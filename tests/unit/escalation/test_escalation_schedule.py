"""When each escalation level is due and who is paged: the seed's three levels, 2 minutes apart."""

from __future__ import annotations

from responder.escalation.schedule import Level, paged_teams, plan, teams_for

# The seed's escalation levels (responder.yaml `escalation_policies.default`).
DEFAULT = [["dev-team"], ["dev-team", "ops-team"], ["dev-team", "ops-team", "management"]]


def test_plan_pages_level_one_at_once_and_each_next_level_after_the_delay() -> None:
    assert plan(DEFAULT, 120.0) == [
        Level(1, 0.0, ("dev-team",)),
        Level(2, 120.0, ("dev-team", "ops-team")),
        Level(3, 240.0, ("dev-team", "ops-team", "management")),
    ]


def test_plan_with_repeats_pages_the_last_level_again_every_delay() -> None:
    levels = plan(DEFAULT, 300.0, repeats=2)

    assert [(lv.number, lv.due_in) for lv in levels] == [(1, 0), (2, 300), (3, 600), (4, 900), (5, 1200)]
    assert levels[3].teams == levels[4].teams == ("dev-team", "ops-team", "management")


def test_single_level_policy_pages_once() -> None:
    assert plan([["ops-team"]], 60.0) == [Level(1, 0.0, ("ops-team",))]


def test_teams_for_each_level_and_past_the_last() -> None:
    assert teams_for(DEFAULT, 1) == ("dev-team",)
    assert teams_for(DEFAULT, 2) == ("dev-team", "ops-team")
    assert teams_for(DEFAULT, 3) == ("dev-team", "ops-team", "management")
    assert teams_for(DEFAULT, 7) == ("dev-team", "ops-team", "management")


def test_paged_teams_are_everyone_told_so_far_in_first_paged_order() -> None:
    escalating = [["ops-team"], ["dev-team"], ["management", "ops-team"]]

    assert paged_teams(escalating, 1) == ("ops-team",)
    assert paged_teams(escalating, 2) == ("ops-team", "dev-team")
    assert paged_teams(escalating, 3) == ("ops-team", "dev-team", "management")
    assert paged_teams(escalating, 9) == ("ops-team", "dev-team", "management")


def test_paged_teams_before_any_page_are_level_one() -> None:
    # An ack or a note before the first page went out still tells the first responders.
    assert paged_teams(DEFAULT, 0) == ("dev-team",)
