"""Telling people: a level's page, a note, an ack or resolve update. Used by jobs, never by views."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from responder.escalation.schedule import paged_teams, teams_for
from responder.store import incidents as store

if TYPE_CHECKING:
    from redis import Redis

    from responder.config.loader import LoadedConfig
    from responder.config.models import Rule
    from responder.notify.base import Approval, Kind
    from responder.store.keys import Keys

log = logging.getLogger(__name__)


def rule_of(config: LoadedConfig, incident: dict[str, Any]) -> Rule | None:
    return next((r for r in config.rules if r.name == incident.get("rule")), None)


def reached_level(redis: Redis, keys: Keys, incident_id: str) -> int:
    raw = redis.hget(keys.escalation(incident_id), "level")
    return int(raw) if raw else 0


def _send(
    redis: Redis,
    keys: Keys,
    config: LoadedConfig,
    incident: dict[str, Any],
    kind: Kind,
    text: str,
    teams: tuple[str, ...],
    channels: list[str],
    *,
    level: int = 1,
    by: str | None = None,
    approval: Approval | None = None,
) -> list[dict[str, Any]]:
    from responder.notify import dispatch
    from responder.notify.base import Message

    if not channels or not teams:
        return []
    message = Message(
        kind=kind,
        incident=incident,
        text=text,
        level=level,
        by=by,
        links=links(config, incident),
        approval=approval,
    )
    return dispatch.notify(redis, keys, config, message, list(teams), channels)


def links(config: LoadedConfig, incident: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if incident.get("generator_url"):
        out["alert"] = str(incident["generator_url"])
    if config.responder.public_url:
        out["incident"] = f"{config.responder.public_url.rstrip('/')}/api/incidents/{incident['id']}"
    return out


def page_level(
    redis: Redis, keys: Keys, config: LoadedConfig, incident: dict[str, Any], level: int, reason: str
) -> list[dict[str, Any]]:
    """Page the teams of ``level`` on the rule's channels and record it in the timeline."""
    rule = rule_of(config, incident)
    if rule is None or not rule.notify:
        return []
    levels = config.responder.escalation_policies.get(rule.escalation.policy)
    if not levels:
        return []
    teams = teams_for(levels, level)
    kind: Kind = "open" if level == 1 else "escalate"
    records = _send(redis, keys, config, incident, kind, reason, teams, list(rule.notify), level=level)
    store.add_event(
        redis,
        keys,
        incident["id"],
        "escalation.level",
        f"{_level_name(level, len(levels))}: paged {', '.join(teams)} via {', '.join(rule.notify)}"
        f" ({reason})",
        level=level,
        deliveries=records,
    )
    return records


def _level_name(level: int, count: int) -> str:
    """``level 2``, or ``level 3 again (repeat 2)`` past the policy's last level."""
    return f"level {level}" if level <= count else f"level {count} again (repeat {level - count})"


def note(
    redis: Redis,
    keys: Keys,
    config: LoadedConfig,
    incident: dict[str, Any],
    text: str,
    channels: Sequence[str] | None = None,
    approval: Approval | None = None,
) -> list[dict[str, Any]]:
    """Tell everyone paged so far (at least level 1) something about the incident.

    ``approval`` puts an Approve button for that waiting step under the note in Slack.
    """
    rule = rule_of(config, incident)
    if rule is None:
        return []
    levels = config.responder.escalation_policies.get(rule.escalation.policy) or [[]]
    teams = paged_teams(levels, reached_level(redis, keys, incident["id"]))
    return _send(
        redis, keys, config, incident, "note", text, teams, list(channels or rule.notify), approval=approval
    )


def update(
    redis: Redis, keys: Keys, config: LoadedConfig, incident: dict[str, Any], kind: Kind, by: str | None
) -> list[dict[str, Any]]:
    """After ack or resolve: edit the Slack message, acknowledge/resolve PagerDuty, email."""
    rule = rule_of(config, incident)
    if rule is None or not rule.notify:
        return []
    levels = config.responder.escalation_policies.get(rule.escalation.policy) or [[]]
    teams = paged_teams(levels, reached_level(redis, keys, incident["id"]))
    verb = "acknowledged" if kind == "ack" else "resolved"
    text = f"{verb} by {by}" if by else verb
    records = _send(redis, keys, config, incident, kind, text, teams, list(rule.notify), by=by)
    if records:
        store.add_event(
            redis,
            keys,
            incident["id"],
            f"notify.{kind}",
            f"told {', '.join(teams)}: {text}",
            deliveries=records,
        )
    return records
