"""A fake PagerDuty Events API v2 (``POST /v2/enqueue``) over HTTPS with a trustme test CA.

Validates events as PagerDuty does (routing key, action, trigger payload fields and
severity), answers ``202 {"status": "success", "dedup_key": ...}``, keeps each alert's
state per (routing key, dedup key), records every request, and can be told to answer
the next requests with something else (429, 500, 400...).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
STATE = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    content_type: str
    body: dict[str, Any]


class FakePagerDuty:
    """Start with :meth:`start`; point ``PAGERDUTY_API_URL`` at :attr:`url` and trust ``ca``."""

    def __init__(self, ca: trustme.CA, routing_keys: list[str]) -> None:
        self.routing_keys = set(routing_keys)
        self.requests: list[RecordedRequest] = []
        self.alerts: dict[tuple[str, str], str] = {}
        self._scripted: deque[tuple[int, dict[str, Any]]] = deque()
        self._always: tuple[int, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    def start(self) -> FakePagerDuty:
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    def reset(self) -> None:
        """Forget every request, alert and scripted answer (between tests sharing the server)."""
        with self._lock:
            self.requests.clear()
            self.alerts.clear()
            self._scripted.clear()
            self._always = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def answer_next(self, status: int, body: dict[str, Any]) -> None:
        self._scripted.append((status, body))

    def answer_always(self, status: int, body: dict[str, Any]) -> None:
        self._always = (status, body)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/v2/enqueue"]

    def _handle(self, request: Request) -> Response:
        content_type = request.headers.get("Content-Type", "")
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except json.JSONDecodeError:
            return _json(_invalid(["bad JSON"]), 400)
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, content_type, body))
            if self._scripted:
                status, answer = self._scripted.popleft()
                return _json(answer, status)
            if self._always:
                return _json(self._always[1], self._always[0])
            if request.method != "POST" or request.path != "/v2/enqueue":
                return _json({"status": "not found"}, 404)
            errors = self._validate(body)
            if errors:
                return _json(_invalid(errors), 400)
            dedup_key = body.get("dedup_key") or uuid.uuid4().hex
            self.alerts[(body["routing_key"], dedup_key)] = STATE[body["event_action"]]
            return _json({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, 202)

    def _validate(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["Event object must be a JSON object"]
        errors = []
        if body.get("routing_key") not in self.routing_keys:
            errors.append(f"Invalid routing key: {body.get('routing_key')}")  # PagerDuty echoes it back
        action = body.get("event_action")
        if action not in ACTIONS:
            errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
        if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
            errors.append("'dedup_key' is required")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") and payload["severity"] not in SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
        return errors


def _invalid(errors: list[str]) -> dict[str, Any]:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
