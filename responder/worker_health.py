"""``responder worker --health-port``: ``/health`` and ``/ready`` for Kubernetes probes.

``/health`` (liveness) says the worker's loop is alive: it heartbeats every few seconds
whether idle, running a job (a thread beats for it) or waiting for Redis. It does not
depend on Redis, on purpose: restarting workers during a Redis outage would not bring
Redis back, and each restart would abandon the job in hand. ``/ready`` (readiness) says
Redis answers a PING within a second.

A small ``http.server`` in a daemon thread: two GETs every few seconds need no framework.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

STALE_AFTER = 60.0
"""A heartbeat older than this (seconds) means the worker's loop is stuck: not healthy."""


@dataclass
class Probes:
    alive_at: Callable[[], float | None]
    """Monotonic time of the worker's last heartbeat (attempted, Redis or not); None before its first."""
    redis: Redis
    """A client that tries once, with a short timeout."""
    started: float = 0.0

    def health(self) -> tuple[int, dict[str, Any]]:
        beat = self.alive_at()
        now = time.monotonic()
        age = now - (beat if beat is not None else self.started)
        body = {"status": "ok" if age <= STALE_AFTER else "stuck", "heartbeat_age_seconds": round(age, 1)}
        return (200 if age <= STALE_AFTER else 503), body

    def ready(self) -> tuple[int, dict[str, Any]]:
        try:
            self.redis.ping()
        except RedisError as exc:
            return 503, {"status": "not ready", "detail": {"redis": f"unreachable: {type(exc).__name__}"}}
        return 200, {"status": "ready", "detail": {"redis": "ok"}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        probes = self.server.probes
        if self.path == "/health":
            status, body = probes.health()
        elif self.path == "/ready":
            status, body = probes.ready()
        else:
            status, body = 404, {"error": "no such endpoint: the worker serves /health and /ready"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes come every few seconds; their access log would drown the worker's."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], probes: Probes) -> None:
        self.probes = probes
        super().__init__(address, _Handler)


def serve(port: int, probes: Probes, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve the probes on ``host:port`` in a daemon thread; ``shutdown()`` the result to stop."""
    probes.started = time.monotonic()
    server = _Server((host, port), probes)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("worker health on %s:%d (/health, /ready)", host, port)
    return server
