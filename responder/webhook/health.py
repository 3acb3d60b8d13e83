"""``/health``, ``/ready`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from responder import scheduling
from responder.config.loader import LoadedConfig
from responder.notify import dispatch, reach, slack_interactions
from responder.runtime import Runtime
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
    detail["channels"] = channel_status(web.runtime.config)
    unreachable = reach.unreachable_teams(web.runtime.config)
    if unreachable:
        detail["unreachable_teams"] = unreachable
    if ok:
        detail.update(lane_status(web.runtime))
    return jsonify({"status": "ready" if ok else "not ready", "detail": detail}), 200 if ok else 503


def channel_status(config: LoadedConfig) -> dict[str, str]:
    """What each channel lacks, if anything; its sends are recorded as skipped until it is set up."""
    status = {
        name: missing or "configured" for name, missing in dispatch.channels_status(config=config).items()
    }
    status["slack_interactions"] = slack_interactions.configured() or "configured"
    return status


def lane_status(runtime: Runtime) -> dict[str, Any]:
    """Live workers per lane, and the lanes nobody serves (their jobs wait until a worker does).

    Not a reason to report the web unready: it accepts and queues alerts either way.
    """
    try:
        served = scheduling.lane_workers(runtime.redis, runtime.keys)
    except RedisError as exc:
        return {"lanes": f"unknown: {type(exc).__name__}"}
    out: dict[str, Any] = {"lanes": {lane.value: count for lane, count in served.items()}}
    unserved = [lane.value for lane, count in served.items() if not count]
    if unserved:
        out["unserved_lanes"] = unserved
    return out


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
