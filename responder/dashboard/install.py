"""Adding the dashboard to the web app: sessions, who may use it, and its routes."""

from __future__ import annotations

import os

from flask import Flask

# The route modules register their views on the blueprint when imported.
from responder.dashboard import buttons, login, views  # noqa: F401
from responder.dashboard.auth import Access, configure, secret_key
from responder.dashboard.blueprint import bp


def install(
    app: Flask, *, api_token: str | None, secret: str | None = None, trusted_header: str | None = None
) -> None:
    """Serve the dashboard on ``app``.

    ``secret`` signs sessions (default ``RESPONDER_SECRET_KEY``, else a random key for this
    process); ``trusted_header`` names the auth proxy's user header (default
    ``RESPONDER_UI_TRUSTED_HEADER``, else none).
    """
    configure(app, secret_key(secret or os.environ.get("RESPONDER_SECRET_KEY")))
    app.extensions["dashboard"] = Access.from_env(api_token, trusted_header)
    app.register_blueprint(bp)
