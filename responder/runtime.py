"""The pieces every process shares: Redis, keys, queue, config, clock.

Web and worker processes each build one :class:`Runtime` from the environment.
Workers check the config version in Redis before each job, so ``/-/reload`` reaches
them without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from rq import Queue

from responder.config.loader import LoadedConfig, default_directory, load_config
from responder.rules.routing import CompiledRule, compile_rules
from responder.store import flags
from responder.store.keys import Keys, default_prefix

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_from_env(url: str | None = None, *, timeout: float | None = 5.0) -> Redis:
    """A client for ``REDIS_URL``; short timeouts so a dead Redis is noticed in time to answer 503."""
    return Redis.from_url(
        url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        socket_connect_timeout=2.0,
        socket_timeout=timeout,
        health_check_interval=30,
    )


@dataclass
class Runtime:
    redis: Redis
    keys: Keys
    config_dir: Path
    config: LoadedConfig
    clock: Callable[[], float] = time.time
    config_version: int = 0
    rules: list[CompiledRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rules = compile_rules(self.config.rules)

    @property
    def queue(self) -> Queue:
        return Queue(self.keys.queue_name, connection=self.redis)

    def reload(self) -> LoadedConfig:
        """Load the config again; raises ConfigError and keeps the old one if it is bad."""
        config = load_config(self.config_dir)
        self.config = config
        self.rules = compile_rules(config.rules)
        flags.seed(self.redis, self.keys, config.responder.flags)
        return config

    def refresh(self) -> None:
        """Reload when another process bumped the config version (a reload via the API)."""
        raw = self.redis.get(self.keys.config_version)
        version = int(raw) if raw else 0
        if version != self.config_version:
            try:
                self.reload()
            except Exception:
                log.exception(
                    "config reload requested but the config does not load; keeping the last good one"
                )
            self.config_version = version


_lock = threading.Lock()
_current: dict[tuple[str, str, str], Runtime] = {}


def build(config_dir: Path | None = None, redis: Redis | None = None, keys: Keys | None = None) -> Runtime:
    config_dir = config_dir or default_directory()
    config = load_config(config_dir)
    runtime = Runtime(
        redis or redis_from_env(timeout=None), keys or Keys(default_prefix()), config_dir, config
    )
    flags.seed(runtime.redis, runtime.keys, config.responder.flags)
    raw = runtime.redis.get(runtime.keys.config_version)
    runtime.config_version = int(raw) if raw else 0
    return runtime


def current() -> Runtime:
    """The runtime of this worker process, built from the environment on first use."""
    ident = (
        os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        default_prefix(),
        str(default_directory()),
    )
    with _lock:
        runtime = _current.get(ident)
        if runtime is None:
            runtime = build()
            _current[ident] = runtime
    runtime.refresh()
    return runtime
