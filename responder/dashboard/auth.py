"""Who is using the dashboard, and proof that a form was sent by the dashboard's own page.

Three ways in, chosen by the environment (docs/operations.md, Dashboard):

- ``RESPONDER_UI_TRUSTED_HEADER`` set (``X-Forwarded-User`` behind oauth2-proxy): that header's
  value is the user. Without the header, the login page (token login still works when
  ``RESPONDER_API_TOKEN`` is set). Set it only when the web is reachable solely through the
  proxy: anyone who can reach it directly can send the header.
- ``RESPONDER_API_TOKEN`` set: ``/ui/login`` takes a name and the token once and keeps them
  in the session cookie; the name is the ``by`` of everything done in the session.
- neither (``responder up`` on loopback): no login; the user is ``$USER`` (else ``dashboard``).

The session is Flask's signed cookie (``RESPONDER_SECRET_KEY``): HttpOnly, SameSite=Lax (so a
link from Slack lands logged in, while a cross-site form post carries no cookie), Secure when
the request came over https. A session holds an HMAC of the API token under the secret key,
so rotating the token ends every session, and the cookie (readable by its holder) reveals
nothing about the token.

CSRF: every session holds a random token; every POST must send it back (form field
``csrf_token`` or header ``X-CSRF-Token``) or it is refused with 403 before anything runs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(days=7)
"""A session ends after this long unused (each request renews it): a week of on-call."""
NAME_LIMIT = 100
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Access:
    """How this web process lets people into the dashboard."""

    api_token: str | None
    trusted_header: str | None = None
    open_user: str = "dashboard"
    """The user when neither a token nor a trusted header is configured."""

    @property
    def open(self) -> bool:
        return self.api_token is None and self.trusted_header is None

    @classmethod
    def from_env(cls, api_token: str | None, trusted_header: str | None = None) -> Access:
        header = trusted_header or os.environ.get("RESPONDER_UI_TRUSTED_HEADER") or None
        return cls(api_token, header, os.environ.get("USER") or "dashboard")


class Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie marked Secure whenever the request is https.

    ``request.is_secure`` is the scheme the WSGI server saw: behind a TLS-terminating proxy,
    gunicorn takes it from ``X-Forwarded-Proto`` sent by the addresses in ``FORWARDED_ALLOW_IPS``
    (default 127.0.0.1) — see docs/operations.md.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def secret_key(configured: str | None) -> str:
    """The key that signs sessions: ``configured`` (``RESPONDER_SECRET_KEY``), else a random one.

    A random key lives as long as the process that made it: sessions end when it restarts,
    and web replicas with different keys do not accept each other's sessions.
    """
    if configured:
        return configured
    log.warning(
        "RESPONDER_SECRET_KEY is not set: dashboard sessions are signed with a random key and end "
        "when the web process restarts; set it (the same on every web replica) to keep them"
    )
    return secrets.token_urlsafe(32)


def configure(app: Flask, key: str) -> None:
    app.secret_key = key
    app.session_interface = Sessions()
    app.config.update(
        SESSION_COOKIE_NAME="responder_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def clean_name(raw: str | None) -> str | None:
    """A user name fit for the timeline: printable, trimmed, at most :data:`NAME_LIMIT` characters."""
    if raw is None:
        return None
    name = "".join(c for c in raw if c.isprintable()).strip()[:NAME_LIMIT]
    return name or None


def _proof(token: str) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, b"dashboard-session:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def token_matches(access: Access, token: str) -> bool:
    if access.api_token is None:
        return False
    return hmac.compare_digest(token.encode(), access.api_token.encode())


def user(access: Access) -> str | None:
    """The user of this request, or None when they must log in first."""
    if access.open:
        return access.open_user
    if access.trusted_header is not None:
        name = clean_name(request.headers.get(access.trusted_header))
        if name is not None:
            return name
    if access.api_token is None:
        return None  # a trusted header is the only way in, and this request has none
    proof = session.get("proof")
    if isinstance(proof, str) and hmac.compare_digest(proof, _proof(access.api_token)):
        return clean_name(session.get("user"))
    return None


def log_in(access: Access, name: str) -> None:
    """Start a fresh session for ``name`` (the token was checked); the CSRF token changes too."""
    assert access.api_token is not None
    session.clear()
    session.permanent = True
    session["user"] = name
    session["proof"] = _proof(access.api_token)
    csrf_token()


def log_out() -> None:
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    """True when the request sends back this session's CSRF token."""
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())
