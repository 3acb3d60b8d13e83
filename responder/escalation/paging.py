"""Telling people: a level's page, a note, an ack or resolve update. Runs in workers, never in views.

Every function builds one :class:`responder.notify.base.Message`, hands it to
:func:`responder.notify.dispatch.notify` for the rule's channels and the right teams, and
records what happened in the incident's timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from responder.config.durations import format_duration
from responder.errors import NotifyError, RateLimited
from responder.escalation.schedule import paged_teams, teams_for
from responder.notify import dispatch, pending
from responder.notify.base import REACHED, UPDATE_KINDS, Approval, Confirmation, Kind, Message, redact
from responder.store import incidents as store
from responder.store import reports, runs
from responder.store.codec import text as as_text
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
        confirmations=_confirmations(rt, incident),
    )
    later = pending.Later(rt.scheduler, rt.clock())
    return dispatch.notify(rt.redis, rt.keys, rt.config, message, list(teams), list(channels), later=later)


def _confirmations(rt: Runtime, incident: Incident) -> tuple[Confirmation, ...]:
    """The incident's runs waiting for a Run click (read only for ``automation: confirm`` rules)."""
    rule = rt.config.rule(incident.rule)
    if rule is None or rule.automation != "confirm" or not incident.open:
        return ()
    waiting = runs.awaiting_confirmation(rt.redis, rt.keys, incident.id)
    return tuple(Confirmation(run.id, run.playbook) for run in waiting)


def page_level(rt: Runtime, incident: Incident, level: int, reason: str) -> bool:
    """Page the teams of ``level`` on the rule's channels and record it in the timeline.

    Returns False when the level reached nobody: every delivery was skipped or failed. That
    is recorded as ``escalation.unreached`` with each channel's reason, never as a page
    (docs/escalation.md, Honest paging); the caller then pages the next level at once.
    """
    rule = rt.config.rule(incident.rule)
    levels = rt.config.levels(rule) if rule is not None else []
    if rule is None or not levels:
        return True  # a rule that pages nobody by design: nothing to reach
    teams = teams_for(levels, level)
    kind: Kind = "open" if level == 1 else "escalate"
    records = _send(rt, incident, kind, reason, teams, rule.notify, level=level)
    reports.paged(rt.redis, rt.keys, incident, {r["team"] for r in records if r["status"] == "sent"})
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


def deliver_pending(rt: Runtime, incident_id: str, channel_name: str, target: str) -> str:
    """The job that sends a target's deliveries held back by a rate limit, oldest first.

    Each one sent (or given up) leaves a line in the timeline; a new 429 reschedules the job
    for the new Retry-After and keeps the rest waiting behind it (:mod:`responder.notify.pending`).
    """
    redis, keys = rt.redis, rt.keys
    key = keys.pending_deliveries(incident_id, channel_name, target)
    registry = dispatch.build_channels()
    channel = registry.get(channel_name)
    secrets = dispatch.all_secrets(registry, rt.config, None)
    done = 0
    while (data := pending.head(redis, key)) is not None:
        incident = store.find(redis, keys, incident_id)
        team_config = rt.config.responder.teams.get(data["team"])
        if incident is None or channel is None or team_config is None:
            redis.delete(key)  # the incident aged out, or the config no longer has the team or channel
            return f"dropped: incident, team {data['team']} or channel {channel_name} no longer exists"
        message = pending.message_of(data, incident, rt.config.incident_url(incident_id))
        raw_ref = redis.hget(keys.deliveries(incident_id), f"{channel_name}:{target}")
        ref = None if raw_ref is None else as_text(raw_ref)
        status, detail = "sent", ""
        if message.kind in UPDATE_KINDS and ref is None:
            status, detail = "skipped", f"nothing was delivered to {target} for this incident"
        else:
            try:
                delivery = dispatch.send(redis, keys, channel, message, data["team"], team_config, ref)
                status, detail = delivery.status, delivery.detail
            except RateLimited as exc:
                attempts = pending.retry_head(redis, key, data)
                if attempts < pending.MAX_ATTEMPTS:
                    later = pending.Later(rt.scheduler, rt.clock())
                    pending.schedule(later, incident_id, channel_name, target, exc.retry_after)
                    return f"sent {done}; rate limited again, retrying in {exc.retry_after:g}s"
                status, detail = "failed", f"{exc} (given up after {attempts} rate-limited attempts)"
            except NotifyError as exc:
                status, detail = "failed", str(exc)
            except Exception as exc:
                status, detail = "failed", f"{type(exc).__name__}: {exc}"
        _record_late(rt, incident, message, data, channel_name, target, status, redact(detail, secrets))
        done += 1
        if not pending.pop_head(redis, key):
            break
    return f"sent {done}"


def _record_late(
    rt: Runtime,
    incident: Incident,
    message: Message,
    data: dict[str, Any],
    channel: str,
    target: str,
    status: str,
    detail: str,
) -> None:
    record = dispatch.record_delivery(
        rt.redis, rt.keys, message.kind, channel, target, data["team"], status, detail
    )
    late = format_duration(max(round(rt.clock() - float(data["since"])), 0))
    what = f"{message.kind} message" + (
        f" (level {message.level})" if message.kind in ("open", "escalate") else ""
    )
    kind = "notify.failed" if status == "failed" else "notify.delayed"
    line = f"{channel} {target}: {what} {status} {late} after it was due, held back by a rate limit"
    if status == "failed":
        line += f": {detail}"
    store.add_event(rt.redis, rt.keys, incident.id, Event(rt.clock(), kind, line, {"deliveries": [record]}))
