"""JSON error answers: ``{"error": "...", "detail": ...}``.

Redis out of reach (down, restarting, failing over) is a 503 on every endpoint, never a
500: the caller (Alertmanager, Slack, an operator's script) should retry, and will.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from redis.exceptions import ResponseError
from werkzeug.exceptions import HTTPException

from responder.store import connection

REDIS_DOWN = "Redis is unreachable; retry later"


def error(status: int, message: str, detail: Any = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return jsonify(body), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        message = {
            413: f"request body over the limit of {app.config.get('MAX_CONTENT_LENGTH')} bytes",
            404: "no such endpoint",
            405: "method not allowed",
        }.get(status, exc.description or exc.name)
        return error(status, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return error(500, "internal error; see the responder's log")

    def redis_down(exc: Exception) -> tuple[Response, int]:
        app.logger.warning("answered 503: Redis unavailable (%s: %s)", type(exc).__name__, exc)
        return error(503, REDIS_DOWN)

    for kind in connection.UNAVAILABLE:
        app.register_error_handler(kind, redis_down)

    @app.errorhandler(ResponseError)
    def redis_refused(exc: ResponseError) -> tuple[Response, int]:
        if connection.unavailable(exc):  # a demoted primary, a replica still loading: a failover under way
            return redis_down(exc)
        return unexpected(exc)
