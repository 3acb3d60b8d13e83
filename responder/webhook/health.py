"""``/health``, ``/ready`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from responder.notify import dispatch, slack_interactions
from responder.webhook.metrics import REGISTRY
from responder.webhook.state import state

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    return jsonify({"status": "ok"}), 200


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    web = state()
    detail: dict[str, Any] = {"config": "loaded", "rules": len(web.runtime.config.rules)}
    ok = True
    try:
        web.runtime.redis.ping()
        detail["redis"] = "ok"
    except RedisError as exc:
        ok = False
        detail["redis"] = f"unreachable: {type(exc).__name__}"
    detail["channels"] = channel_status()
    return jsonify({"status": "ready" if ok else "not ready", "detail": detail}), 200 if ok else 503


def channel_status() -> dict[str, str]:
    """What each channel lacks, if anything; its sends are recorded as skipped until it is set up."""
    status = {name: missing or "configured" for name, missing in dispatch.channels_status().items()}
    status["slack_interactions"] = slack_interactions.configured() or "configured"
    return status


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
