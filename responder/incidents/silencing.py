"""The "Silence 1h" button: silence every alert of an incident in Alertmanager, once per click burst."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from responder.actions.alertmanager import api_matchers, silence
from responder.config.durations import format_duration
from responder.errors import ActionError
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.records import Event

if TYPE_CHECKING:
    from redis import Redis

    from responder.runtime import Runtime
    from responder.store.keys import Keys

SILENCE_CLAIM_TTL = 3600
"""Seconds a "Silence 1h" click stays the incident's only one (double clicks change nothing)."""


def _claim(keys: Keys, incident_id: str) -> str:
    return f"{keys.incident(incident_id)}:silence"


def silenced_by(redis: Redis, keys: Keys, incident_id: str) -> str | None:
    """Who clicked "Silence 1h" on this incident within the claim's time (None: nobody, or it failed)."""
    raw = redis.get(_claim(keys, incident_id))
    return None if raw is None else text(raw)


def silence_incident(
    rt: Runtime,
    incident_id: str,
    duration: float,
    by: str,
    *,
    url: str | None = None,
    details: Mapping[str, Any] | None = None,
    via: str = "Slack",
) -> list[str]:
    """Silence every alert of an incident (one silence per alert) and record it in the timeline.

    ``details`` go into the timeline entries beside ``by`` (the Slack user id of a click);
    ``via`` names where the click came from (``Slack``, ``the dashboard``) in the silence's
    comment, which is what people read in Alertmanager.

    Returns the new silence ids; an empty list when the incident was already silenced this
    way within the last ``SILENCE_CLAIM_TTL`` seconds (a double click).

    Raises:
        IncidentNotFound: no such incident.
        ActionError: Alertmanager refused or could not be reached (the click can be retried).
    """
    redis, keys = rt.redis, rt.keys
    incident = store.get(redis, keys, incident_id)
    claim = _claim(keys, incident_id)
    if not redis.set(claim, by, nx=True, ex=max(int(duration), SILENCE_CLAIM_TTL)):
        return []
    alerts = store.alerts(redis, keys, incident_id)
    firing = [a for a in alerts if a.firing] or alerts
    label_sets = [a.labels for a in firing] or [incident.labels]
    length = format_duration(duration)
    comment = f"{by} via {via}: incident {incident_id} ({incident.title})"
    ids: list[str] = []
    try:
        for labels in label_sets:
            ids.append(silence(api_matchers(None, labels), duration, comment, url=url))
    except ActionError as exc:
        redis.delete(claim)
        who = {"by": by, **(details or {})}
        failed = Event(rt.clock(), "silence.failed", f"silence by {by} failed: {exc}", who)
        store.add_event(redis, keys, incident_id, failed)
        raise
    created = Event(
        rt.clock(),
        "silence.created",
        f"silenced for {length} by {by}: {', '.join(ids)}",
        {"by": by, **(details or {}), "silence_ids": ids, "duration": length},
    )
    store.add_event(redis, keys, incident_id, created)
    return ids
