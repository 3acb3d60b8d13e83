"""Running the web app under gunicorn.

Each gunicorn worker builds its app after the fork and does not need Redis to boot: a web
started while Redis is down (a restart, a failover) comes up, answers 503 until Redis is
back, then 200. On SIGTERM gunicorn stops accepting and lets requests in flight finish
(``graceful_timeout``), so a rolling restart drops no accepted webhook.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from responder import runtime
from responder.dashboard.auth import secret_key
from responder.store import connection
from responder.webhook.app import create_app
from responder.webhook.limits import Limits

GRACEFUL_TIMEOUT = 10
"""Seconds gunicorn lets requests in flight finish after SIGTERM (they take milliseconds)."""


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Any, options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def serve_app(
    config_dir: Path, bind: str, workers: int, webhook_token: str | None, api_token: str | None
) -> None:
    """Serve until stopped. Each gunicorn worker builds its own app (and Redis pool) after the fork."""

    # One key for every gunicorn worker of this server: a random key made in each worker would
    # make a session from one worker unknown to the next (sessions still end when serve restarts).
    session_key = secret_key(os.environ.get("RESPONDER_SECRET_KEY"))

    def factory() -> Any:
        built = runtime.build(config_dir, redis=runtime.redis_from_env(patience=connection.WEB))
        return create_app(
            built, webhook_token=webhook_token, api_token=api_token, bind=bind, secret_key=session_key
        )

    # Fail before forking if the config, REDIS_URL or a size cap is bad: gunicorn would otherwise boot-loop.
    runtime.load(config_dir)
    connection.check_env()
    Limits.from_env()
    options = {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": int(os.environ.get("RESPONDER_WEB_THREADS", "4")),
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "accesslog": os.environ.get("RESPONDER_ACCESS_LOG") or None,
        "errorlog": "-",
        "loglevel": "info",
    }
    _Gunicorn(factory, options).run()
