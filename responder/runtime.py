"""The composition root: what every process shares (Redis, keys, config, clock, ids, scheduler).

Web and worker processes each build one :class:`Runtime` from the environment. Lower
layers receive it and use only its parts; when a lower layer must reach a higher one (a
failed step pages people), it goes through a method here instead of importing upward.
Workers check the config version in Redis before each job, so ``/-/reload`` reaches them
without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from responder.actions.registry import CATALOG
from responder.clock import Clock, NewId, random_id
from responder.config.loader import LoadedConfig, default_directory, load_config
from responder.escalation import paging, timers
from responder.notify.base import Approval
from responder.routing.routes import CompiledRule, compile_rules
from responder.scheduling import RQScheduler, Scheduler
from responder.store import connection, flags
from responder.store.keys import Keys, default_prefix
from responder.store.records import Incident

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = connection.DEFAULT_URL


def redis_from_env(url: str | None = None, *, patience: connection.Patience = connection.WORKER) -> Redis:
    """A client for ``url`` or ``REDIS_URL`` (plain, TLS or Sentinel; see :mod:`responder.store.connection`).

    Raises:
        RedisUrlError: the URL is malformed.
    """
    return connection.connect(url, patience)


def load(directory: Path) -> LoadedConfig:
    """Load and check a config directory against the built-in actions.

    Raises:
        ConfigError: with every issue found.
    """
    return load_config(directory, CATALOG)


@dataclass
class Runtime:
    redis: Redis
    keys: Keys
    config_dir: Path
    config: LoadedConfig
    clock: Clock = time.time
    sleep: Callable[[float], None] = time.sleep
    """How a job waits for a due time (tests pass one that moves their clock instead)."""
    new_id: NewId = random_id
    scheduler: Scheduler = field(default=None)  # type: ignore[assignment]  # built from redis in __post_init__
    config_version: int = 0
    rules: list[CompiledRule] = field(default_factory=list)
    started: bool = False
    """Whether the flags were seeded and the config version read (done once Redis first answers)."""

    def __post_init__(self) -> None:
        self.rules = compile_rules(self.config.rules)
        if self.scheduler is None:
            self.scheduler = RQScheduler(self.redis, self.keys)

    def reload(self) -> LoadedConfig:
        """Load the config again; raises ConfigError and keeps the old one if it is bad."""
        config = load(self.config_dir)
        self.config = config
        self.rules = compile_rules(config.rules)
        flags.seed(self.redis, self.keys, config.responder.flags)
        return config

    def start(self) -> None:
        """Seed the flags and read the config version; the first time Redis answers, not before.

        A process may start while Redis is down (a restart, a failover): it must come up and
        answer 503 until Redis is back, not exit. Seeding never overwrites, so doing it again is
        harmless.
        """
        flags.seed(self.redis, self.keys, self.config.responder.flags)
        raw = self.redis.get(self.keys.config_version)
        self.config_version = int(raw) if raw else 0
        self.started = True

    def refresh(self) -> None:
        """Reload when another process bumped the config version (a reload via the API).

        With Redis unreachable it does nothing: the caller's own Redis call reports the outage.
        """
        try:
            if not self.started:
                self.start()
            raw = self.redis.get(self.keys.config_version)
        except RedisError:
            return
        version = int(raw) if raw else 0
        if version != self.config_version:
            try:
                self.reload()
            except Exception:
                log.exception(
                    "config reload requested but the config does not load; keeping the last good one"
                )
            self.config_version = version

    # -- what lower layers ask of higher ones ------------------------------------------------------------

    def escalate_now(self, incident_id: str, reason: str) -> int | None:
        """Page the next escalation level at once (a failed step, a spent budget)."""
        return timers.escalate_now(self, incident_id, reason)

    def note(
        self,
        incident: Incident,
        text: str,
        channels: Sequence[str] | None = None,
        *,
        approval: Approval | None = None,
    ) -> list[dict[str, Any]]:
        """Tell everyone paged so far about ``incident``."""
        return paging.note(self, incident, text, channels, approval)


_lock = threading.Lock()
_current: dict[tuple[str, str, str], Runtime] = {}


def build(config_dir: Path | None = None, redis: Redis | None = None, keys: Keys | None = None) -> Runtime:
    config_dir = config_dir or default_directory()
    config = load(config_dir)
    runtime = Runtime(redis or redis_from_env(), keys or Keys(default_prefix()), config_dir, config)
    try:
        runtime.start()
    except RedisError as exc:
        log.warning("Redis unreachable at start (%s); carrying on, flags are seeded once it answers", exc)
    return runtime


def _ident() -> tuple[str, str, str]:
    return (connection.url_from_env(), default_prefix(), str(default_directory()))


def current() -> Runtime:
    """The runtime of this worker process, built from the environment on first use."""
    with _lock:
        runtime = _current.get(_ident())
        if runtime is None:
            runtime = build()
            _current[_ident()] = runtime
    runtime.refresh()
    return runtime


def install(runtime: Runtime) -> None:
    """Make ``runtime`` the one :func:`current` returns for this process's environment.

    For tests that run jobs in-process with a runtime of their own (a clock they move).
    """
    with _lock:
        _current.clear()
        _current[_ident()] = runtime
