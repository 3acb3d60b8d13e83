"""Shared fixtures: a real Redis isolated by key prefix, a real config directory, real RQ workers."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from responder import runtime as runtime_mod
from responder.runtime import Runtime
from responder.store.keys import Keys
from responder.up import start_redis

TESTDATA = Path(__file__).parent / "testdata"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis at 127.0.0.1:6379 (or $RESPONDER_TEST_REDIS_URL), else a private redis-server."""
    url = os.environ.get("RESPONDER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except RedisError:
        process, url = start_redis(tmp_path_factory.mktemp("redis"))
        yield url
        process.terminate()
        process.wait(10)
        return
    yield url


@pytest.fixture
def redis(redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


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
def runtime(redis_url: str, keys: Keys, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The runtime a worker in this process will use (jobs build theirs from the same environment)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(config_dir))
    runtime_mod._current.clear()
    return runtime_mod.current()
