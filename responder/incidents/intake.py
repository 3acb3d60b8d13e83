"""From an accepted webhook batch to incidents: route each alert, plan the response, apply it.

Every change to an incident happens under its key's lock and lands in one Redis
transaction, so a worker that dies half-way leaves nothing half-done and the retried
job finds each alert either fully applied (and skips it) or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responder.clock import iso
from responder.incidents import heartbeat, lifecycle, storms
from responder.plan import Facts, ResponsePlan, flapping_limit, plan_alert, storm_key, storm_limit
from responder.routing.routes import incident_key, route
from responder.store import guards
from responder.store import incidents as store
from responder.store.codec import text
from responder.store.keys import DEDUPE_TTL
from responder.store.records import Alert, AlertStatus, Event

if TYPE_CHECKING:
    from redis.client import Pipeline

    from responder.config.models import Rule
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

UNMATCHED_KEEP = 1000
"""Alerts no rule matched, kept for inspection (newest first)."""
UNMATCHED_BYTES = 1024 * 1024
"""Default of ``RESPONDER_MAX_UNMATCHED_BYTES``: the newest unmatched entries are kept while they
total at most this many bytes, so a few huge label sets cannot make the list large."""
UNMATCHED_TTL = 7 * 86400
"""A list nobody added to for this long is forgotten (with its byte count)."""

# Push one entry, count the alert (KEYS[3]) and keep the list's size in bytes beside it (KEYS[2]),
# then drop the oldest entries while the list holds too many or too many bytes. The byte count
# keeps this O(1) per alert where measuring the list each time would read the whole budget
# back; it is rebuilt if it went missing.
_PUSH_UNMATCHED = """
local size = string.len(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then
  local total = 0
  for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do total = total + string.len(entry) end
  redis.call('SET', KEYS[2], total)
end
local n = redis.call('LPUSH', KEYS[1], ARGV[1])
local total = redis.call('INCRBY', KEYS[2], size)
local budget, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
while n > 0 and (total > budget or n > keep) do
  local oldest = redis.call('RPOP', KEYS[1])
  total = redis.call('DECRBY', KEYS[2], string.len(oldest))
  n = n - 1
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('INCR', KEYS[3])
return n
"""
INCIDENT_LOCK = 60
"""Seconds one worker may hold an incident key while applying an alert."""


def process_batch(rt: Runtime, batch_id: str) -> dict[str, int]:
    """Apply every alert the webhook accepted in one request, then drop the batch.

    The alerts that open an incident each (a storm of distinct alerts of a rule with ``storm:
    off``) go together: their
    keys' locks are taken with the plan's reads in one round trip, and every incident they
    open lands, with the locks' release, in one transaction (:func:`_open_together`). Anything
    else (an alert joining an open incident, a resolution, an alert of a rule with a storm limit,
    a key another worker holds, a key twice in the batch) is applied one by one as before.
    """
    counts = {"alerts": 0, "unmatched": 0}
    routed: list[_Entry] = []
    for raw in rt.redis.lrange(rt.keys.batch(batch_id), 0, -1):
        item = json.loads(raw)
        counts["alerts"] += 1
        alert = Alert.from_webhook(item["alert"])
        entries = _routed(rt, alert, item.get("groupKey", ""), item.get("receivedAt"))
        if entries is None:
            counts["unmatched"] += 1
        else:
            routed += entries
    times = Counter(entry.key for entry in routed)
    # A rule with a storm limit decides one by one: its count is shared with every other worker,
    # and a batch's read-to-write window is wider than one alert's (measured: 30 opened for 25).
    fast = [e.alert.firing and times[e.key] == 1 and storm_limit(rt.config, e.rule) is None for e in routed]
    together = [e for e, ok in zip(routed, fast, strict=True) if ok]
    one_by_one = [e for e, ok in zip(routed, fast, strict=True) if not ok]
    one_by_one += _open_together(rt, together)
    for entry in one_by_one:
        _apply_locked(rt, entry)
    rt.redis.delete(rt.keys.batch(batch_id))
    return counts


@dataclass(frozen=True)
class _Entry:
    """One alert routed to one rule, with the incident key it belongs to."""

    rule: Rule
    key: str
    alert: Alert
    group_key: str
    received_at: float | None


def _apply_locked(rt: Runtime, entry: _Entry) -> None:
    with rt.redis.lock(
        rt.keys.incident_lock(entry.key), timeout=INCIDENT_LOCK, blocking_timeout=INCIDENT_LOCK
    ):
        if entry.alert.firing:
            _fire(rt, entry.rule, entry.key, entry.alert, entry.group_key, entry.received_at)
        else:
            _resolve_alert(rt, entry.rule, entry.key, entry.alert)


def _open_together(rt: Runtime, entries: list[_Entry]) -> list[_Entry]:
    """Apply firing alerts of distinct keys with few round trips; returns those left to do one by one.

    Under each key's lock, as one by one: the lock is taken (``SET NX``, with a token) in the
    round trip that reads the plan's facts, and released (only if still ours) in the
    transaction that opens the incidents. Left for the one-by-one path, which takes the lock
    again and reads afresh once these opens landed: an alert whose key another worker holds,
    one that joins an open incident.
    """
    if not entries:
        return []
    now = rt.clock()
    token = uuid.uuid4().hex  # a lock token, as redis-py's Lock makes one
    with rt.redis.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.set(rt.keys.incident_lock(entry.key), token, nx=True, px=INCIDENT_LOCK * 1000)
            pipe.exists(rt.keys.resolved_early(entry.alert.fingerprint, entry.alert.starts_at))
            _queue_facts(pipe, rt, entry.rule, entry.key, now)
        results = pipe.execute()
    held: list[str] = []
    left: list[_Entry] = []
    try:
        with rt.redis.pipeline(transaction=True) as writes:
            writes.multi()
            for entry in entries:
                locked, early = results[0], results[1]
                facts, results = _facts_from(rt, entry.rule, now, results[2:])
                if not locked:
                    left.append(entry)
                    continue
                held.append(entry.key)
                if early:
                    continue  # its resolution overtook it: the alert is already over
                plan = plan_alert(rt.config, entry.rule, entry.alert.labels, entry.group_key, facts)
                if plan.opens and plan.storm is None:
                    lifecycle.queue_open(writes, rt, plan, entry.alert, entry.received_at)
                else:  # joining an open incident: one by one, once these opens landed
                    left.append(entry)
            for key in held:
                guards.release_lock(writes, rt.keys.incident_lock(key), token)
            writes.execute()
    except BaseException:
        for key in held:
            guards.release_lock(rt.redis, rt.keys.incident_lock(key), token)
        raise
    return left


def handle_alert(rt: Runtime, alert: Alert, group_key: str, received_at: float | None = None) -> bool:
    """Route one alert; returns False when no rule matched (it is then recorded as unmatched)."""
    entries = _routed(rt, alert, group_key, received_at)
    if entries is None:
        return False
    for entry in entries:
        _apply_locked(rt, entry)
    return True


def _routed(rt: Runtime, alert: Alert, group_key: str, received_at: float | None) -> list[_Entry] | None:
    """``alert`` once for every rule that takes it; None when no rule does (it is then recorded as
    unmatched), and none for the heartbeat (the web noted it; there is nothing to act on)."""
    matched = route(rt.rules, alert.labels)
    if not matched:
        if heartbeat.matches(rt.config.responder.heartbeat, alert.labels):
            return []
        _record_unmatched(rt, alert)
        return None
    return [
        _Entry(
            compiled.rule, incident_key(compiled.rule, alert.labels, group_key), alert, group_key, received_at
        )
        for compiled in matched
    ]


def read_facts(rt: Runtime, rule: Rule, key: str) -> Facts:
    """What the response plan depends on, read in one round trip."""
    now = rt.clock()
    with rt.redis.pipeline(transaction=False) as pipe:
        _queue_facts(pipe, rt, rule, key, now)
        facts, _ = _facts_from(rt, rule, now, pipe.execute())
    return facts


def _queue_facts(pipe: Pipeline, rt: Runtime, rule: Rule, key: str, now: float) -> None:
    """Queue the reads of :func:`read_facts` in the caller's pipeline."""
    limit = storm_limit(rt.config, rule)
    brake = flapping_limit(rt.config, rule)
    pipe.hget(rt.keys.open_incidents, key)
    pipe.exists(rt.keys.paused)
    pipe.get(rt.keys.cooldown(key))
    pipe.get(rt.keys.budget(int(now // 3600)))
    if brake is not None:
        pipe.zrangebyscore(rt.keys.key_opens(key), now - brake.per, "+inf", withscores=True)
        pipe.get(rt.keys.flapping(key))
    if limit is not None:
        pipe.zcount(rt.keys.rule_opens(rule.name), now - limit.per, "+inf")
        pipe.hget(rt.keys.open_incidents, storm_key(rule.name))


def _facts_from(rt: Runtime, rule: Rule, now: float, results: list[Any]) -> tuple[Facts, list[Any]]:
    """The facts from the results of :func:`_queue_facts` at the head of ``results``; and the rest."""
    limit = storm_limit(rt.config, rule)
    brake = flapping_limit(rt.config, rule)
    used = 4 + (2 if brake is not None else 0) + (2 if limit is not None else 0)
    (open_raw, paused, cooldown_until, budget, *rest), results = results[:used], results[used:]
    key_opens, flapping_at = rest[:2] if brake is not None else ([], None)
    rule_opens, storm_id = rest[-2:] if limit is not None else (0, None)
    facts = Facts(
        paused=bool(paused),
        cooldown_left=guards.cooldown_left(cooldown_until, now),
        budget_used=int(budget or 0),
        open_incident=None if open_raw is None else text(open_raw),
        rule_opens=int(rule_opens),
        storm_incident=None if storm_id is None else text(storm_id),
        key_opens=tuple(float(at) for _, at in key_opens),
        flapping_left=guards.flapping_left(flapping_at, now, brake.per) if brake is not None else 0.0,
    )
    return facts, results


def _fire(rt: Runtime, rule: Rule, key: str, alert: Alert, group_key: str, received_at: float | None) -> None:
    if rt.redis.exists(rt.keys.resolved_early(alert.fingerprint, alert.starts_at)):
        return  # its resolution overtook it: the alert is already over
    plan = plan_alert(rt.config, rule, alert.labels, group_key, read_facts(rt, rule, key))
    counted = plan.opens and storm_limit(rt.config, rule) is not None
    if plan.storm is None and not counted:
        _apply(rt, plan, alert, received_at)
        return
    # Alerts of one rule hold different keys' locks: decide again under the storm incident's own,
    # so two workers cannot both open it, a member cannot join one that is resolving, and two
    # workers cannot both open the last incident the limit allows (both read 24 of 25 and opened).
    with storms.locked(rt, rule.name):
        plan = plan_alert(rt.config, rule, alert.labels, group_key, read_facts(rt, rule, key))
        _apply(rt, plan, alert, received_at)


def _apply(rt: Runtime, plan: ResponsePlan, alert: Alert, received_at: float | None) -> None:
    if plan.opens:
        lifecycle.open_incident(rt, plan, alert, received_at)
    elif plan.storm is not None:
        storms.join(rt, plan, alert)
    else:
        _join(rt, plan, alert)


def _join(rt: Runtime, plan: ResponsePlan, alert: Alert) -> None:
    incident_id = store.open_id(rt.redis, rt.keys, plan.incident_key)
    if incident_id is None:
        return
    previous = store.alert(rt.redis, rt.keys, incident_id, alert.fingerprint)
    if previous is not None and previous.firing and previous.starts_at == alert.starts_at:
        return  # already applied (a retried job)
    now = rt.clock()
    with rt.redis.pipeline(transaction=True) as pipe:
        store.put_alert(pipe, rt.keys, incident_id, alert)
        store.touch(pipe, rt.keys, incident_id, now)
        event = Event(
            now,
            "alert.received",
            f"alert {alert.name} joined the incident",
            {"fingerprint": alert.fingerprint},
        )
        store.add_event(pipe, rt.keys, incident_id, event)
        pipe.execute()


def _resolve_alert(rt: Runtime, rule: Rule, key: str, alert: Alert) -> None:
    redis, keys = rt.redis, rt.keys
    incident_id = store.open_id(redis, keys, key)
    previous = None if incident_id is None else store.alert(redis, keys, incident_id, alert.fingerprint)
    if incident_id is None or previous is None or previous.starts_at != alert.starts_at:
        if storms.resolve_member(rt, rule, alert):
            return
        # Resolved before we saw it fire (reordered delivery): remember, so a late firing is ignored.
        redis.set(keys.resolved_early(alert.fingerprint, alert.starts_at), 1, ex=DEDUPE_TTL)
        return
    if previous.status == AlertStatus.RESOLVED:
        return
    now = rt.clock()
    with redis.pipeline(transaction=True) as pipe:
        store.put_alert(pipe, keys, incident_id, alert)
        event = Event(
            now, "alert.resolved", f"alert {alert.name} resolved", {"fingerprint": alert.fingerprint}
        )
        store.add_event(pipe, keys, incident_id, event)
        pipe.execute()
    if all(not a.firing for a in store.alerts(redis, keys, incident_id)):
        lifecycle.resolve(rt, incident_id, by="alertmanager", reason="all alerts resolved")


def _record_unmatched(rt: Runtime, alert: Alert) -> None:
    keys = rt.keys
    entry = {
        "at": iso(rt.clock()),
        "status": alert.status.value,
        "labels": alert.labels,
        "fingerprint": alert.fingerprint,
    }
    lists = (keys.unmatched, keys.unmatched_bytes, keys.counter("alerts_unmatched"))
    limits = (unmatched_budget(), UNMATCHED_KEEP, UNMATCHED_TTL)
    rt.redis.eval(_PUSH_UNMATCHED, len(lists), *lists, json.dumps(entry), *limits)
    log.info("alert matched no rule: %r", alert.name)


def unmatched_budget() -> int:
    """``RESPONDER_MAX_UNMATCHED_BYTES``, else :data:`UNMATCHED_BYTES` (a bad value is logged, not fatal)."""
    raw = os.environ.get("RESPONDER_MAX_UNMATCHED_BYTES", "").strip()
    if not raw:
        return UNMATCHED_BYTES
    try:
        return max(int(raw), 0)
    except ValueError:
        log.warning(
            "RESPONDER_MAX_UNMATCHED_BYTES=%r is not a whole number of bytes; using %d", raw, UNMATCHED_BYTES
        )
        return UNMATCHED_BYTES
