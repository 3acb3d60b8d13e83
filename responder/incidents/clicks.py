"""A Slack button click, in the worker: who clicked, whether they may, and doing it.

The web view only verified Slack's signature and queued the click (Slack wants an answer
within 3 s, and reading a user group's members is a Slack API call). Here, in order:

1. the value must name an incident (or, for Approve and Run, a playbook run) that exists; any
   other value is answered "unknown incident" and nothing else happens;
2. ``access.slack`` must allow the clicker (:mod:`responder.incidents.access`); group
   membership comes from ``usergroups.users.list``, cached in Redis for a minute;
3. the action is done through the same code as the API and the CLI, recorded with the
   Slack user's name and id (names change, ids do not).

A refused click is recorded in the incident's timeline (``access.refused``) and answered
with a message only the clicker sees (the click's ``response_url``). Nothing here raises
because of what a click carries: every outcome is an answer, never a failed job.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from responder.errors import ActionError, ApprovalRefused, IncidentNotFound
from responder.incidents import access, lifecycle, silencing
from responder.notify import slack_interactions
from responder.notify.slack_interactions import RUN_ACTIONS, SlackAction
from responder.playbooks import approval
from responder.store import incidents as store
from responder.store import runs
from responder.store.records import Event

if TYPE_CHECKING:
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

SILENCE = 3600.0
"""Seconds the "Silence 1h" button silences for."""
GROUP_CACHE = 60
"""Seconds a user group's members are cached (docs/security.md: for a minute)."""
UNKNOWN = "unknown incident: it may have aged out of retention; `responder incidents list` shows what exists"
UNKNOWN_RUN = "unknown playbook run: it may have aged out of retention, with its incident"


def handle(rt: Runtime, click: SlackAction) -> str:
    """Do one verified click. Returns what happened, in a word or two (the job's result)."""
    target = _target(rt, click)
    if target is None:
        _answer(click, UNKNOWN if click.action_id not in RUN_ACTIONS else UNKNOWN_RUN)
        return "unknown incident"
    incident_id, run_id = target
    refusal = access.check(
        rt.config.responder.access.slack,
        click.action_id,
        access.Clicker(click.user_id, click.team_id, click.user_team_id),
        lambda group: members(rt, group),
    )
    if refusal is not None:
        _refuse(rt, click, incident_id, refusal.reason)
        return "refused"
    who = {"slack_user_id": click.user_id, "slack_user_name": click.user_name}
    by = click.user_name
    try:
        if click.action_id == "ack":
            changed = lifecycle.acknowledge(rt, incident_id, by, details=who)
            return "acknowledged" if changed else "unchanged"
        if click.action_id == "resolve":
            changed = lifecycle.resolve(rt, incident_id, by, reason="resolved in Slack", details=who)
            return "resolved" if changed else "unchanged"
        if click.action_id == "silence_1h":
            ids = silencing.silence_incident(rt, incident_id, SILENCE, by, details=who)
            return f"silenced {', '.join(ids)}" if ids else "unchanged"
        assert run_id is not None and click.approval is not None
        changed = approval.approve(rt, run_id, click.approval[1], by, details=who)
        return ("confirmed" if click.action_id == "run" else "approved") if changed else "unchanged"
    except IncidentNotFound:  # removed between the look-up and the change (retention)
        _answer(click, UNKNOWN)
        return "unknown incident"
    except ApprovalRefused as exc:  # recorded by approval itself
        _answer(click, f"Not approved: {exc}")
        return "approval refused"
    except ActionError as exc:  # Alertmanager refused the silence or was unreachable; recorded
        _answer(click, f"The silence failed: {exc}. Click again, or silence in Alertmanager.")
        return "silence failed"


def members(rt: Runtime, group_id: str) -> frozenset[str]:
    """A user group's members, from Redis when read within the last minute, else from Slack.

    Raises:
        NotifyError: Slack could not be asked, or refused (e.g. ``missing_scope``: the app
            needs ``usergroups:read``). Nothing is cached then, so the next click asks again.
    """
    key = rt.keys.slack_usergroup(group_id)
    cached = rt.redis.get(key)
    if cached is not None:
        return frozenset(json.loads(cached))
    found = slack_interactions.usergroup_members(group_id)
    rt.redis.set(key, json.dumps(sorted(found)), ex=GROUP_CACHE)
    return found


def _target(rt: Runtime, click: SlackAction) -> tuple[str, str | None] | None:
    """``(incident_id, run_id)`` the click is about, when its value names one that exists (for a
    run: with its incident, so nothing is ever recorded in the timeline of a deleted incident)."""
    run_id = None
    if click.action_id in RUN_ACTIONS:
        approval_of = click.approval
        run = runs.load(rt.redis, rt.keys, approval_of[0]) if approval_of is not None else None
        incident_id, run_id = (run.incident_id, run.id) if run is not None else (None, None)
    else:
        incident_id = click.incident_id
    if incident_id is None or store.find(rt.redis, rt.keys, incident_id) is None:
        return None
    return incident_id, run_id


def _refuse(rt: Runtime, click: SlackAction, incident_id: str, reason: str) -> None:
    verb = access.VERB[click.action_id]
    details: dict[str, Any] = {
        "action": click.action_id,
        "slack_user_id": click.user_id,
        "slack_user_name": click.user_name,
        "reason": reason,
    }
    if click.team_id is not None:
        details["slack_team_id"] = click.team_id
    message = f"Slack user {click.user_name} ({click.user_id}) may not {verb}: {reason}"
    store.add_event(rt.redis, rt.keys, incident_id, Event(rt.clock(), "access.refused", message, details))
    log.info("refused a Slack click: %r", message)
    _answer(
        click,
        f"You may not {verb} this from Slack: {reason}. The responder's config lists who may "
        "(`access.slack` in responder.yaml); the on-call lead can also act with `responder` or the API.",
    )


def _answer(click: SlackAction, text: str) -> None:
    slack_interactions.answer_ephemeral(click, text)  # never raises: a failed answer is only logged
