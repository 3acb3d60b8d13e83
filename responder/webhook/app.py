"""The Flask application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Request, Response
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SessionInterface, SessionMixin
from pydantic_core import from_json

from responder import dashboard
from responder.runtime import Runtime
from responder.store import connection
from responder.webhook import alertmanager, api, errors, guard, health, keepalive, metrics, report, slack
from responder.webhook.limits import Limits
from responder.webhook.state import WebState

DEFAULT_MAX_BODY = 10 * 1024 * 1024


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsed by pydantic's parser: deep nesting or a huge number is a ValueError
    (which ``request.get_json`` turns into a 400, or None when silent), where ``json.loads``
    raised RecursionError, a 500."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return from_json(s)


def create_app(
    runtime: Runtime,
    *,
    webhook_token: str | None = None,
    api_token: str | None = None,
    max_body: int | None = None,
    limits: Limits | None = None,
    bind: str | None = None,
    secret_key: str | None = None,
    trusted_header: str | None = None,
) -> Flask:
    """Build the app around ``runtime``. Tokens None means that endpoint is unauthenticated.

    ``limits`` None reads the caps on alerts from the environment (``RESPONDER_MAX_*``).
    ``bind`` is the address served (``responder serve --bind``); with a token missing, every
    request is held to it (:mod:`responder.webhook.guard`: Host, cross-site, JSON only).
    ``secret_key`` signs dashboard sessions and ``trusted_header`` names an auth proxy's user
    header; None reads ``RESPONDER_SECRET_KEY`` and ``RESPONDER_UI_TRUSTED_HEADER``
    (:mod:`responder.dashboard.auth`).
    """
    app = Flask("responder")
    app.config["MAX_CONTENT_LENGTH"] = max_body or int(
        os.environ.get("RESPONDER_MAX_BODY_BYTES", DEFAULT_MAX_BODY)
    )
    app.json = JSONProvider(app)
    app.extensions["responder"] = WebState(
        runtime,
        webhook_token,
        api_token,
        limits=limits if limits is not None else Limits.from_env(),
        wait_replicas=connection.wait_replicas(),
    )
    errors.register(app)
    keepalive.install(app)
    if bind is not None and (webhook_token is None or api_token is None):
        guard.install(app, bind)
    metrics.install(app, runtime)
    for blueprint in (alertmanager.bp, api.bp, health.bp, report.bp, slack.bp):
        app.register_blueprint(blueprint)
    dashboard.install(app, api_token=api_token, secret=secret_key, trusted_header=trusted_header)
    app.session_interface = _NoSessionFor(app.session_interface, frozenset({"/webhook/alertmanager"}))
    return app


class _NoSessionFor(SessionInterface):
    """The app's sessions, except on ``paths``: machines post there without cookies, and opening a
    session (building its signer, looking for a cookie) cost every webhook request."""

    def __init__(self, inner: SessionInterface, paths: frozenset[str]) -> None:
        self.inner = inner
        self.paths = paths

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path in self.paths:
            return None  # Flask puts its null session there; nothing is read or written
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        self.inner.save_session(app, session, response)

    def is_null_session(self, obj: object) -> bool:
        return self.inner.is_null_session(obj)

    def make_null_session(self, app: Flask) -> NullSession:
        return self.inner.make_null_session(app)
