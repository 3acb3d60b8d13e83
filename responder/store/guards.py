"""The Redis state behind the safety rails: kill switch, hourly action budget, cooldowns, run locks.

Only state lives here; what to do about it is decided by :mod:`responder.plan` (at open and
resolve) and :mod:`responder.playbooks.gates` (before each step).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from responder.store.codec import text

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.config.models import Playbook
    from responder.store.keys import Keys

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# Take the lock (KEYS[1]) for run ARGV[1] unless another run holds it, and note the target (ARGV[3])
# on the run (KEYS[2]); returns the other holder, or nil when the lock is ours.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], 'target', ARGV[3])
return nil
"""


def lock_ttl(playbook: Playbook) -> int:
    """Long enough for every step with all its retries, so a crashed run cannot hold the lock forever."""
    return int(sum(s.timeout * (s.retries + 1) + 2 ** (s.retries + 1) for s in playbook.steps)) + 60


TARGET_PARAMS = ("namespace", "deployment", "container", "flag", "profile", "method", "url")
"""Step parameters that say *what* a step acts on (not how, nor what it tells people)."""


def playbook_target(steps: list[tuple[str, dict[str, Any]]]) -> str:
    """What a run acts on: its steps' rendered target parameters, hashed.

    Two runs of a playbook on the same target (the same Deployment, the same flag) must
    not overlap: the second is skipped. Runs on different targets (a templated deployment
    name from different alerts) go ahead side by side.
    """
    material = sorted(
        (action, name, json.dumps(params[name], sort_keys=True, default=str))
        for action, params in steps
        for name in TARGET_PARAMS
        if name in params
    )
    if not material:
        return "any"
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:16]


def claim_playbook_lock(
    redis: Redis, keys: Keys, playbook: Playbook, target: str, run_id: str, run_key: str
) -> str | None:
    """Take the lock on (playbook, target) for this run and note the run's ``target``, in one round trip.

    Returns the run holding the lock when that is another one (nothing is written then); a run
    that holds it already takes it again, with a fresh TTL.
    """
    key = keys.playbook_lock(playbook.name, target)
    holder = redis.eval(_CLAIM, 2, key, run_key, run_id, lock_ttl(playbook), target)
    return None if holder is None else text(holder)


def release_lock(redis: Redis | Pipeline, key: str, token: str) -> None:
    """Delete the lock ``key`` if it still holds ``token`` (in the caller's pipeline when given one)."""
    redis.eval(_RELEASE, 1, key, token)


def release_playbook_lock(
    redis: Redis | Pipeline, keys: Keys, playbook: str, target: str, run_id: str
) -> None:
    """Release the lock if ``run_id`` holds it (in the caller's pipeline when given one)."""
    redis.eval(_RELEASE, 1, keys.playbook_lock(playbook, target), run_id)


def budget_used(redis: Redis, keys: Keys, now: float) -> int:
    """Actions counted against the budget in the hour that holds ``now``."""
    raw = redis.get(keys.budget(int(now // 3600)))
    return int(raw) if raw else 0


def take_budget(redis: Redis, keys: Keys, per_hour: int, now: float) -> bool:
    """Count one action against this hour's budget; False when it is spent."""
    key = keys.budget(int(now // 3600))
    with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 7200)
        used, _ = pipe.execute()
    return int(used) <= per_hour


def cooldown_left(stored: bytes | str | None, now: float) -> float:
    """Seconds of cooldown left, from the stored end time of an incident key's cooldown."""
    return max(float(stored) - now, 0.0) if stored else 0.0


def start_cooldown(pipe: Pipeline, keys: Keys, incident_key: str, seconds: float, now: float) -> None:
    """The key's playbooks do not run again until ``now + seconds`` (the key expires then too)."""
    if seconds > 0:
        pipe.set(keys.cooldown(incident_key), now + seconds, px=int(seconds * 1000))


def set_paused(redis: Redis, keys: Keys, paused: bool) -> None:
    if paused:
        redis.set(keys.paused, 1)
    else:
        redis.delete(keys.paused)


def is_paused(redis: Redis, keys: Keys) -> bool:
    return bool(redis.exists(keys.paused))


def count_open(pipe: Pipeline, keys: Keys, rule: str, member: str, now: float, window: float) -> None:
    """Queue: ``member`` (an incident id, or an alert that joined the storm incident) is one more
    new incident ``rule`` would have opened at ``now``; entries older than ``window`` go."""
    key = keys.rule_opens(rule)
    pipe.zadd(key, {member: now})
    pipe.zremrangebyscore(key, "-inf", now - window)
    pipe.expire(key, int(window) + 60)


def count_key_open(
    pipe: Pipeline, keys: Keys, incident_key: str, incident_id: str, now: float, window: float
) -> None:
    """Queue: ``incident_key`` opened once more (as ``incident_id``) at ``now``; opens older than
    ``window`` go (the flapping brake counts the rest)."""
    key = keys.key_opens(incident_key)
    pipe.zadd(key, {incident_id: now})
    pipe.zremrangebyscore(key, "-inf", now - window)
    pipe.expire(key, int(window) + 60)


def mark_flapping(pipe: Pipeline, keys: Keys, incident_key: str, now: float, window: float) -> None:
    """Queue: ``incident_key`` opened while flapping at ``now``; it stays flapping until ``window``
    passes with no open (the stored time decides; the TTL only cleans up)."""
    pipe.set(keys.flapping(incident_key), now, px=int(window * 1000) + 60_000)


def flapping_left(stored: bytes | str | None, now: float, window: float) -> float:
    """Seconds ``incident_key`` stays flapping, from the stored time of its last flapping open."""
    return max(float(stored) + window - now, 0.0) if stored else 0.0
