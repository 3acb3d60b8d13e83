"""What every operator-API blueprint shares: ``Bearer $RESPONDER_API_TOKEN`` and a 503 while Redis is
unreachable (``/api/...``: :mod:`responder.webhook.api`, :mod:`responder.webhook.report`)."""

from __future__ import annotations

from flask import Blueprint, Response, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from responder.webhook.auth import token_ok
from responder.webhook.errors import error
from responder.webhook.state import state


def operator_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint whose every request needs the API token, and whose Redis outages answer 503."""
    bp = Blueprint(name, import_name)

    @bp.before_request
    def authenticate() -> tuple[Response, int] | None:
        if not token_ok(request, state().api_token):
            return error(401, "missing or wrong token: send Authorization: Bearer $RESPONDER_API_TOKEN")
        return None

    @bp.errorhandler(RedisConnectionError)
    @bp.errorhandler(RedisTimeoutError)
    def redis_down(exc: Exception) -> tuple[Response, int]:
        return error(503, "Redis is unreachable; retry later")

    return bp
