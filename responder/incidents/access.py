"""Who may click what in Slack (``access.slack``, docs/security.md): one pure decision.

:func:`check` answers for one click: the workspace must be ``team_id`` (when set), and the
user must be listed for the action's permission, directly, as ``"*"``, or through a
user group. Group membership is asked of a callable (the click's job reads it from Slack,
cached for a minute), so the rule itself is tested on plain values.

Permissions: ``ack`` covers Acknowledge, Resolve and Silence 1h (the on-call's buttons);
``approve`` covers Approve (a waiting step) and Run (a run waiting for confirmation). Both are
empty by default: nobody may click until the config says who may.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from responder.config.models import SlackAccess
from responder.errors import NotifyError

PERMISSION = {"ack": "ack", "resolve": "ack", "silence_1h": "ack", "approve": "approve", "run": "approve"}
"""Each button's ``action_id`` -> the ``access.slack`` list that says who may click it."""

VERB = {
    "ack": "acknowledge",
    "resolve": "resolve",
    "silence_1h": "silence",
    "approve": "approve",
    "run": "start a playbook run for",
}
"""How the timeline and the answer in Slack name what was tried."""

Members = Callable[[str], frozenset[str]]
"""A user group's member ids; raises :class:`NotifyError` when they cannot be read."""


@dataclass(frozen=True)
class Clicker:
    """Who clicked, from where."""

    user_id: str
    team_id: str | None
    user_team_id: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a click is refused: said in the timeline and, to the clicker, in Slack."""

    reason: str


def check(rules: SlackAccess, action_id: str, who: Clicker, members: Members) -> Refusal | None:
    """None when ``who`` may click ``action_id``; else why not."""
    if rules.team_id is not None:
        # A Slack Connect guest clicks in our workspace but belongs to another: both must be ours.
        teams = [t for t in (who.team_id, who.user_team_id) if t is not None]
        if not teams or any(t != rules.team_id for t in teams):
            came = ", ".join(dict.fromkeys(teams)) or "no workspace"
            return Refusal(f"the click came from {came}, not from workspace {rules.team_id} (team_id)")
    permission = PERMISSION[action_id]
    allowed = rules.ack if permission == "ack" else rules.approve
    if not allowed:
        return Refusal(f"nobody may {VERB[action_id]} from Slack: access.slack.{permission} is empty")
    if "*" in allowed or who.user_id in allowed:
        return None
    unreadable: list[str] = []
    for group in (entry for entry in allowed if entry.startswith("S")):
        try:
            if who.user_id in members(group):
                return None
        except NotifyError as exc:
            unreadable.append(str(exc))
    reason = f"{who.user_id} is not in access.slack.{permission}"
    if unreadable:
        reason += f" (and membership could not be read: {'; '.join(unreadable)})"
    return Refusal(reason)
