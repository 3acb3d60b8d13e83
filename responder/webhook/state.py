"""What the web app holds: the runtime and its auth settings (in ``app.extensions``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import current_app

from responder.runtime import Runtime
from responder.webhook.limits import Limits

REFRESH_EVERY = 2.0


@dataclass
class WebState:
    runtime: Runtime
    webhook_token: str | None
    api_token: str | None
    last_refresh: float = 0.0
    limits: Limits = field(default_factory=Limits)
    """Caps on each alert of a webhook request."""
    wait_replicas: int = 0
    """``REDIS_WAIT_REPLICAS``: replicas that must hold an accepted batch before the webhook's 200."""

    def fresh_runtime(self) -> Runtime:
        """The runtime, reloading the config if another process was told to reload (checked every 2 s)."""
        now = time.monotonic()
        if now - self.last_refresh > REFRESH_EVERY:
            self.last_refresh = now
            self.runtime.refresh()
        return self.runtime


def state() -> WebState:
    value: WebState = current_app.extensions["responder"]
    return value
