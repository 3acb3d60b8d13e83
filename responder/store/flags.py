"""The feature-flag store the managed app polls at ``/api/flags``.

Flags live in one Redis hash, name -> JSON. Initial values come from
``responder.yaml``; a flag already in Redis keeps the value actions gave it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.client import Pipeline

from responder.store.keys import Keys


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
    return {k.decode() if isinstance(k, bytes) else k: json.loads(v) for k, v in sorted(raw.items())}


def get(redis: Redis, keys: Keys, name: str) -> Any:
    raw = redis.hget(keys.flags, name)
    return None if raw is None else json.loads(raw)


def exists(redis: Redis, keys: Keys, name: str) -> bool:
    return bool(redis.hexists(keys.flags, name))


def set_value(redis: Redis, keys: Keys, name: str, value: Any) -> Any:
    redis.hset(keys.flags, name, json.dumps(value))
    return value


def update(redis: Redis, keys: Keys, change: Any) -> dict[str, Any]:
    """Apply ``change(current_flags) -> {name: new_value}`` atomically (optimistic WATCH)."""

    result: dict[str, Any] = {}

    def apply(pipe: Pipeline) -> None:
        raw = pipe.hgetall(keys.flags)
        current = {k.decode() if isinstance(k, bytes) else k: json.loads(v) for k, v in raw.items()}
        result.clear()
        result.update(change(current))
        pipe.multi()
        for name, value in result.items():
            pipe.hset(keys.flags, name, json.dumps(value))

    redis.transaction(apply, keys.flags)
    return result
