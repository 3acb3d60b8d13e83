"""The feature-flag store the managed app polls at ``/api/flags``, and who changed each flag last.

Flags live in one Redis hash, name -> JSON. Initial values come from
``responder.yaml``; a flag already in Redis keeps the value actions gave it.

Every write says who made it (a :class:`FlagChange`): a second hash beside the flags,
name -> the last change as JSON, written in the same transaction as the value. So the
dashboard can say "set by automation for incident 3f2a…, 4 min ago" or "set by api".
A flag that was never changed has no entry: its value is still the one from
``responder.yaml``. One entry per declared flag, so the hash stays as small as the flags.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis
from redis.client import Pipeline

from responder.store.codec import text
from responder.store.keys import Keys

AUTOMATION = "automation"
"""The ``by`` of a change made by a playbook step (``flags.*``, ``ratelimit.set_profile``)."""
API = "api"
"""The ``by`` of a change made through ``PUT /api/flags/<name>`` (the CLI's ``flags set`` too)."""


@dataclass(frozen=True)
class FlagChange:
    """Who changed a flag and when (the last change only)."""

    by: str
    """``automation``, ``api``, or the name of a dashboard user."""
    at: float
    incident: str | None = None
    """The incident whose playbook made the change."""
    run: str | None = None
    """The playbook run that made the change."""

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def decode(cls, raw: bytes | str) -> FlagChange:
        data = json.loads(raw)
        return cls(str(data["by"]), float(data["at"]), data.get("incident"), data.get("run"))


def _changes_key(keys: Keys) -> str:
    # Derived from the flags' own key so the two always travel together (same prefix, same slot).
    return f"{keys.flags}:changes"


def seed(redis: Redis, keys: Keys, initial: Mapping[str, Any]) -> None:
    """Add flags from the config that Redis does not have yet (never overwrites)."""
    if not initial:
        return
    with redis.pipeline(transaction=True) as pipe:
        for name, value in initial.items():
            pipe.hsetnx(keys.flags, name, json.dumps(value))
        pipe.execute()


def all_flags(redis: Redis, keys: Keys) -> dict[str, Any]:
    raw = redis.hgetall(keys.flags)
    return {text(k): json.loads(v) for k, v in sorted(raw.items())}


def get(redis: Redis, keys: Keys, name: str) -> Any:
    raw = redis.hget(keys.flags, name)
    return None if raw is None else json.loads(raw)


def exists(redis: Redis, keys: Keys, name: str) -> bool:
    return bool(redis.hexists(keys.flags, name))


def last_changes(redis: Redis, keys: Keys) -> dict[str, FlagChange]:
    """Flag name -> its last recorded change (flags never changed since the config seeded them are absent)."""
    return {text(k): FlagChange.decode(v) for k, v in redis.hgetall(_changes_key(keys)).items()}


def set_value(redis: Redis, keys: Keys, name: str, value: Any, changed: FlagChange) -> Any:
    """Replace flag ``name``'s value and record who did it, in one transaction."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.flags, name, json.dumps(value))
        pipe.hset(_changes_key(keys), name, changed.encode())
        pipe.execute()
    return value


def update(
    redis: Redis, keys: Keys, change: Callable[[dict[str, Any]], dict[str, Any]], changed: FlagChange
) -> dict[str, Any]:
    """Apply ``change(current_flags) -> {name: new_value}`` atomically (optimistic WATCH), recording
    ``changed`` as the last change of every flag it returns."""

    result: dict[str, Any] = {}

    def apply(pipe: Pipeline) -> None:
        raw = pipe.hgetall(keys.flags)
        current = {text(k): json.loads(v) for k, v in raw.items()}
        result.clear()
        result.update(change(current))
        pipe.multi()
        for name, value in result.items():
            pipe.hset(keys.flags, name, json.dumps(value))
            pipe.hset(_changes_key(keys), name, changed.encode())

    redis.transaction(apply, keys.flags)
    return result
