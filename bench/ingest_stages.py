"""The responder's web app cut short, for the ingest benchmark's "where the time goes" rows.

Each factory builds the real app as ``responder serve`` does (its hooks, guard, session handling,
error handlers), then replaces what the webhook does after some point with the baseline's one
``LPUSH`` of the body (``bench/baseline_app.py``):

- :func:`app_only`: nothing of the webhook's own work; what the app around it costs.
- :func:`checked`: the webhook's checks (``responder.webhook.alertmanager.check``: auth, the body,
  pydantic's validation, the caps, each alert's JSON, routing for critical-first intake), then one
  ``LPUSH`` of the alerts' JSON instead of deduplicating them and queueing the work.

Served under the same gunicorn settings as the others (``bench.procs.Stack.bench_web``), in the
same rounds, so the steps between baseline, these two and the responder are the cost of each part.
Benchmark-only: a 200 from these stores the body and acts on nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, current_app, request

from bench.baseline_app import KEY
from responder import runtime
from responder.store import connection
from responder.webhook import alertmanager
from responder.webhook.app import create_app
from responder.webhook.state import state

VIEW = "alertmanager.receive"


def _app() -> Flask:
    config_dir = Path(os.environ["RESPONDER_CONFIG_DIR"])
    built = runtime.build(config_dir, redis=runtime.redis_from_env(patience=connection.WEB))
    return create_app(built, bind=os.environ["BENCH_BIND"], secret_key="bench-" * 8)


def _stored(body: bytes) -> tuple[Response, int]:
    state().runtime.redis.lpush(KEY, body)
    return current_app.response_class('{"accepted":1,"duplicates":0}\n', mimetype="application/json"), 200


def app_only() -> Flask:
    def receive() -> tuple[Response, int]:
        return _stored(request.get_data(cache=False))

    app = _app()
    app.view_functions[VIEW] = receive
    return app


def checked() -> Flask:
    def receive() -> tuple[Response, int]:
        outcome = alertmanager.check(state())
        if not isinstance(outcome, alertmanager.Checked):
            return outcome
        return _stored(b"\n".join(outcome.encoded))  # the alerts the responder would store

    app = _app()
    app.view_functions[VIEW] = receive
    return app
