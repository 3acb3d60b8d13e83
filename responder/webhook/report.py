"""``GET /api/report?since=7d[&compare=1]``: the incident report as JSON (``Bearer $RESPONDER_API_TOKEN``)."""

from __future__ import annotations

from flask import Response, jsonify, request

from responder.config.durations import parse_duration
from responder.errors import DurationError
from responder.report.build import build, last_hours
from responder.webhook.errors import error
from responder.webhook.operator import operator_blueprint
from responder.webhook.state import state

bp = operator_blueprint("report", __name__)

LONGEST = 366 * 86400
"""The longest window: a year (the buckets are kept long enough for a year and the one before)."""


@bp.get("/api/report")
def report() -> tuple[Response, int]:
    spelled = request.args.get("since", "7d")
    try:
        length = parse_duration(spelled)
    except DurationError as exc:
        return error(400, f"since: {exc}")
    if not 0 < length <= LONGEST:
        return error(400, f"since must be between 1h and 366d, not {spelled!r}")
    compare = request.args.get("compare", "0").lower() in ("1", "true", "yes")
    runtime = state().fresh_runtime()
    since, until = last_hours(length, runtime.clock())
    rules = [rule.name for rule in runtime.config.rules]
    return jsonify(build(runtime.redis, runtime.keys, since, until, compare=compare, rules=rules)), 200
