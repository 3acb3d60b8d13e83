"""Shared fixtures: a real Redis isolated by key prefix, a real config directory, real RQ workers."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from responder import runtime as runtime_mod
from responder.runtime import Runtime
from responder.store.keys import Keys

TESTDATA = Path(__file__).parent / "testdata"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis() -> Redis:
    return Redis.from_url(REDIS_URL)


@pytest.fixture
def keys(redis: Redis) -> Iterator[Keys]:
    keys = Keys(prefix=f"test-{uuid.uuid4().hex[:10]}")
    yield keys
    for pattern in (f"{keys.prefix}:*", f"rq:*{keys.prefix}*"):
        for key in redis.scan_iter(pattern, count=1000):
            redis.delete(key)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of tests/testdata/config/basic that a test may edit."""
    target = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", target)
    return target


@pytest.fixture
def runtime(redis: Redis, keys: Keys, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The runtime a worker in this process will use (jobs build theirs from the same environment)."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(config_dir))
    runtime_mod._current.clear()
    return runtime_mod.current()
