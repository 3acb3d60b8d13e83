"""The ingest baseline: a bare Flask app that does one Redis LPUSH per request.

It is what "accept a webhook durably" costs with nothing else: no parsing, no
validation, no dedupe, no job. Served under the same gunicorn settings as the
responder (see ``bench.procs.Stack.baseline_web``), so the ratio between the two is
the cost of everything the responder does on top.
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify, request
from redis import Redis

KEY = "baseline:webhooks"


def create_app() -> Flask:
    app = Flask("baseline")
    redis = Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/webhook/alertmanager")
    def receive() -> tuple[Response, int]:
        redis.lpush(KEY, request.get_data(cache=False))
        return jsonify({"accepted": 1}), 200

    @app.get("/health")
    def health() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200

    return app
