"""Telling people: a level's page, a note, an ack or resolve update. Runs in workers, never in views.

Every function builds one :class:`responder.notify.base.Message`, hands it to
:func:`responder.notify.dispatch.notify` for the rule's channels and the right teams, and
records what happened in the incident's timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from responder.escalation.schedule import paged_teams, teams_for
from responder.notify import dispatch
from responder.notify.base import REACHED, Approval, Kind, Message
from responder.store import incidents as store
from responder.store.records import Event, Incident

if TYPE_CHECKING:
    from redis import Redis

    from responder.runtime import Runtime
    from responder.store.keys import Keys

log = logging.getLogger(__name__)


def reached_level(redis: Redis, keys: Keys, incident_id: str) -> int:
    raw = redis.hget(keys.escalation(incident_id), "level")
    return int(raw) if raw else 0


def _send(
    rt: Runtime,
    incident: Incident,
    kind: Kind,
    text: str,
    teams: Sequence[str],
    channels: Sequence[str],
    *,
    level: int = 1,
    by: str | None = None,
    approval: Approval | None = None,
) -> list[dict[str, Any]]:
    if not channels or not teams:
        return []
    message = Message(
        kind=kind,
        incident=incident,
        text=text,
        level=level,
        by=by,
        incident_url=rt.config.incident_url(incident.id),
        approval=approval,
    )
    return dispatch.notify(rt.redis, rt.keys, rt.config, message, list(teams), list(channels))


def page_level(rt: Runtime, incident: Incident, level: int, reason: str) -> bool:
    """Page the teams of ``level`` on the rule's channels and record it in the timeline.

    Returns False when the level reached nobody: every delivery was skipped or failed. That
    is recorded as ``escalation.unreached`` with each channel's reason, never as a page
    (DESIGN §7 Honest paging); the caller then pages the next level at once.
    """
    rule = rt.config.rule(incident.rule)
    levels = rt.config.levels(rule) if rule is not None else []
    if rule is None or not levels:
        return True  # a rule that pages nobody by design: nothing to reach
    teams = teams_for(levels, level)
    kind: Kind = "open" if level == 1 else "escalate"
    records = _send(rt, incident, kind, reason, teams, rule.notify, level=level)
    name = _level_name(level, len(levels))
    reached = any(r["status"] in REACHED for r in records)
    if reached:
        event = Event(
            rt.clock(),
            "escalation.level",
            f"{name}: paged {', '.join(teams)} via {', '.join(rule.notify)} ({reason})",
            {"level": level, "deliveries": records},
        )
    else:
        then = f"paging level {level + 1} at once" if level < len(levels) else "no level left to page"
        event = Event(
            rt.clock(),
            "escalation.unreached",
            f"{name}: reached nobody of {', '.join(teams)} ({reason}): {unreached_reasons(records)}; {then}",
            {"level": level, "deliveries": records},
        )
    store.add_event(rt.redis, rt.keys, incident.id, event)
    return reached


def unreached_reasons(records: Sequence[dict[str, Any]]) -> str:
    """``slack: SLACK_BOT_TOKEN is not set; email: ...``: each channel's distinct reasons, in order."""
    by_channel: dict[str, dict[str, None]] = {}
    for record in records:
        by_channel.setdefault(record["channel"], {})[record["detail"] or record["status"]] = None
    return "; ".join(f"{channel}: {', '.join(details)}" for channel, details in by_channel.items()) or (
        "nothing was sent"
    )


def _level_name(level: int, count: int) -> str:
    """``level 2``, or ``level 3 again (repeat 2)`` past the policy's last level."""
    return f"level {level}" if level <= count else f"level {count} again (repeat {level - count})"


def told_so_far(rt: Runtime, incident: Incident) -> tuple[str, ...]:
    """Every team paged so far for ``incident`` (at least level 1's)."""
    rule = rt.config.rule(incident.rule)
    levels = rt.config.levels(rule) if rule is not None else []
    if not levels:
        return ()
    return paged_teams(levels, reached_level(rt.redis, rt.keys, incident.id))


def note(
    rt: Runtime,
    incident: Incident,
    text: str,
    channels: Sequence[str] | None = None,
    approval: Approval | None = None,
) -> list[dict[str, Any]]:
    """Tell everyone paged so far (at least level 1) something about the incident.

    ``approval`` puts an Approve button for that waiting step under the note in Slack.
    """
    rule = rt.config.rule(incident.rule)
    if rule is None:
        return []
    teams = told_so_far(rt, incident)
    return _send(rt, incident, "note", text, teams, channels or rule.notify, approval=approval)


def update(rt: Runtime, incident: Incident, kind: Kind, by: str | None) -> list[dict[str, Any]]:
    """After ack or resolve: edit the Slack message, acknowledge/resolve PagerDuty, email."""
    rule = rt.config.rule(incident.rule)
    if rule is None:
        return []
    teams = told_so_far(rt, incident)
    verb = "acknowledged" if kind == "ack" else "resolved"
    text = f"{verb} by {by}" if by else verb
    records = _send(rt, incident, kind, text, teams, rule.notify, by=by)
    if records:
        store.add_event(
            rt.redis,
            rt.keys,
            incident.id,
            Event(rt.clock(), f"notify.{kind}", f"told {', '.join(teams)}: {text}", {"deliveries": records}),
        )
    return records
