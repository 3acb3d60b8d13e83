"""Storm incidents: member alerts joining and resolving (docs/playbooks.md, Storms).

The plan (:mod:`responder.plan.storm`) decides that an alert goes to its rule's storm
incident; :func:`responder.incidents.lifecycle.open_incident` opens one. Here: a later
alert joins it, and a member's resolution counts down the members still firing, the
last one resolving the incident. Both happen under the storm incident's own lock: its
members arrive under many different incident keys' locks, and a member must not join
an incident that is resolving, nor two workers open two storm incidents for one rule.

A storm may hold thousands of alerts, so nothing here reads them all: the member count
and the count still firing live in the incident's hash, and only the first
:data:`MEMBERS_LISTED` members get a timeline line each (then every power of ten).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from responder.incidents import lifecycle
from responder.plan import storm_key
from responder.plan.storm import MEMBERS_LISTED
from responder.store import guards
from responder.store import incidents as store
from responder.store.records import Alert, Event

if TYPE_CHECKING:
    from responder.config.models import Rule
    from responder.plan import ResponsePlan
    from responder.runtime import Runtime

STORM_LOCK = 60
"""Seconds one worker may hold a storm incident while applying one alert to it."""


@contextmanager
def locked(rt: Runtime, rule: str) -> Iterator[None]:
    """Hold ``rule``'s storm incident (open or not yet) for one alert."""
    key = rt.keys.incident_lock(storm_key(rule))
    with rt.redis.lock(key, timeout=STORM_LOCK, blocking_timeout=STORM_LOCK):
        yield


def member_id(alert: Alert) -> str:
    """How an alert that joined the storm counts in the rule's opens (it opened no incident of its own)."""
    return f"{alert.fingerprint}:{alert.starts_at}"


def join(rt: Runtime, plan: ResponsePlan, alert: Alert) -> None:
    """Add a firing ``alert`` to the open storm incident ``plan`` names (call under :func:`locked`)."""
    redis, keys = rt.redis, rt.keys
    incident_id = store.open_id(redis, keys, plan.incident_key)
    if incident_id is None:
        return
    previous = store.alert(redis, keys, incident_id, alert.fingerprint)
    if previous is not None and previous.firing and previous.starts_at == alert.starts_at:
        return  # already applied (a retried job)
    now = rt.clock()
    with redis.pipeline(transaction=True) as pipe:
        pipe.multi()
        store.storm_member(pipe, keys, incident_id, firing_before=previous is not None and previous.firing)
        store.put_alert(pipe, keys, incident_id, alert)
        store.touch(pipe, keys, incident_id, now)
        if plan.storm_window is not None:
            guards.count_open(pipe, keys, plan.rule.name, member_id(alert), now, plan.storm_window)
        members = int(pipe.execute()[0])
    event = member_event(alert, members, now)
    if event is not None:
        store.add_event(redis, keys, incident_id, event)


def member_event(alert: Alert, members: int, now: float) -> Event | None:
    """The timeline line for the ``members``-th member: each of the first few, then every power of ten."""
    details = {"fingerprint": alert.fingerprint, "members": members}
    if members <= MEMBERS_LISTED:
        return Event(now, "storm.member", f"alert {alert.name} joined the storm (member {members})", details)
    if members == MEMBERS_LISTED + 1 or _power_of_ten(members):
        message = (
            f"{members} member alerts so far; after the first {MEMBERS_LISTED} they are counted, not listed"
        )
        return Event(now, "storm.count", message, details)
    return None


def _power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1


def resolve_member(rt: Runtime, rule: Rule, alert: Alert) -> bool:
    """Apply a resolved ``alert`` to ``rule``'s storm incident; False when it is not a member.

    The last member to resolve resolves the incident.
    """
    redis, keys = rt.redis, rt.keys
    incident_id = store.open_id(redis, keys, storm_key(rule.name))
    if incident_id is None:
        return False
    with locked(rt, rule.name):
        previous = store.alert(redis, keys, incident_id, alert.fingerprint)
        if previous is None or previous.starts_at != alert.starts_at:
            return False
        if not previous.firing:
            return True  # already applied (a retried job)
        with redis.pipeline(transaction=True) as pipe:
            pipe.multi()
            store.storm_member_resolved(pipe, keys, incident_id)
            store.put_alert(pipe, keys, incident_id, alert)
            store.touch(pipe, keys, incident_id, rt.clock())
            firing = int(pipe.execute()[0])
        if firing <= 0:
            incident = store.get(redis, keys, incident_id)
            reason = f"all {incident.storm_members} member alerts resolved"
            lifecycle.resolve(rt, incident_id, by="alertmanager", reason=reason)
    return True
