"""JSON error answers: ``{"error": "...", "detail": ...}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


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
