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
from tests.helpers import MovingClock

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
def runtime(
    redis_url: str, keys: Keys, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """The runtime jobs run with in this process, on a clock the test moves (``tests.helpers.advance``).

    Worker processes a test starts build their own from the same environment (and the wall clock).
    """
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RESPONDER_KEY_PREFIX", keys.prefix)
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(config_dir))
    yield timed_runtime()
    runtime_mod._current.clear()


def timed_runtime() -> Runtime:
    """A runtime built from the environment, on a :class:`MovingClock`, installed for in-process jobs."""
    clock = MovingClock()
    built = runtime_mod.build()
    built.clock, built.sleep = clock, clock.sleep
    runtime_mod.install(built)
    return built
