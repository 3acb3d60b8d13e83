"""Who may click what (``access.slack``), decided on plain values: no Redis, no Slack."""

from __future__ import annotations

import pytest

from responder.config.models import SlackAccess
from responder.errors import NotifyError
from responder.incidents.access import Clicker, Refusal, check

RULES = SlackAccess(team_id="T0123ABCD", ack=["U0ALICE", "S0ONCALL"], approve=["S0LEADS"])
GROUPS = {"S0ONCALL": frozenset({"U0BOB"}), "S0LEADS": frozenset({"U0ALICE"})}


def members(group: str) -> frozenset[str]:
    if group not in GROUPS:
        raise NotifyError(f"usergroups.users.list for {group} failed: no_such_subteam")
    return GROUPS[group]


def never(group: str) -> frozenset[str]:
    raise AssertionError(f"group {group} should not have been looked up")


def at_home(user: str) -> Clicker:
    return Clicker(user, "T0123ABCD", "T0123ABCD")


@pytest.mark.parametrize("action", ["ack", "resolve", "silence_1h"])
def test_a_listed_user_may_ack_resolve_and_silence_without_a_group_look_up(action: str) -> None:
    assert check(RULES, action, at_home("U0ALICE"), never) is None


def test_a_group_member_may_click_and_others_may_not() -> None:
    assert check(RULES, "ack", at_home("U0BOB"), members) is None
    assert check(RULES, "ack", at_home("U0CAROL"), members) == Refusal("U0CAROL is not in access.slack.ack")


def test_approve_has_its_own_list() -> None:
    assert check(RULES, "approve", at_home("U0ALICE"), members) is None
    assert check(RULES, "approve", at_home("U0BOB"), members) == Refusal(
        "U0BOB is not in access.slack.approve"
    )


def test_empty_lists_refuse_everyone() -> None:
    assert check(SlackAccess(), "approve", Clicker("U0ALICE", None), never) == Refusal(
        "nobody may approve from Slack: access.slack.approve is empty"
    )


def test_star_is_anyone_of_the_workspace_only() -> None:
    anyone = SlackAccess(team_id="T0123ABCD", ack=["*"])
    assert check(anyone, "ack", at_home("U0ZED"), never) is None
    assert check(anyone, "ack", Clicker("U0ZED", "T0OTHER", "T0OTHER"), never) == Refusal(
        "the click came from T0OTHER, not from workspace T0123ABCD (team_id)"
    )
    # Without team_id, the workspace is not checked (responder check warns about "*" then).
    assert check(SlackAccess(ack=["*"]), "ack", Clicker("U0ZED", "T0OTHER"), never) is None


def test_an_unreadable_group_is_named_in_the_refusal_but_another_group_may_still_allow() -> None:
    rules = SlackAccess(ack=["S0GONE", "S0ONCALL"])
    assert check(rules, "ack", Clicker("U0BOB", None), members) is None
    assert check(rules, "ack", Clicker("U0CAROL", None), members) == Refusal(
        "U0CAROL is not in access.slack.ack (and membership could not be read: "
        "usergroups.users.list for S0GONE failed: no_such_subteam)"
    )
