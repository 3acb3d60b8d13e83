"""The dashboard's blueprint and what holds for every request to it: who the user is, the CSRF
check on every POST, the headers every page carries, and error pages in HTML.

The routes themselves are in :mod:`responder.dashboard.views` (pages),
:mod:`responder.dashboard.buttons` (POSTs that change things) and
:mod:`responder.dashboard.login`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import NotFound

from responder.config.durations import format_duration
from responder.dashboard import auth, timefmt
from responder.errors import IncidentNotFound
from responder.runtime import Runtime
from responder.webhook.state import state

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)

PUBLIC = frozenset({"dashboard.static", "dashboard.root", "dashboard.login"})
"""Endpoints served to someone not logged in (the login POST still needs its CSRF token)."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
"""Only this origin's own files run: an alert label that slipped past escaping still could not."""


def access() -> auth.Access:
    value: auth.Access = current_app.extensions["dashboard"]
    return value


def runtime() -> Runtime:
    return state().fresh_runtime()


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"dashboard/{template}", **context), status


def problem(status: int, title: str, message: str) -> tuple[str, int]:
    return page("error.html", status, title=title, message=message)


@bp.before_request
def gate() -> Any:
    if request.method == "POST" and not auth.csrf_ok():
        # Before anything else runs: a forged or stale form changes nothing.
        return problem(
            403,
            "Refused",
            "This form's security token is missing or stale (the session may have ended). "
            "Reload the page and try again.",
        )
    g.user = auth.user(access())
    if g.user is None and request.endpoint not in PUBLIC:
        target = url_for(
            "dashboard.login", next=request.full_path.rstrip("?") if request.method == "GET" else None
        )
        if request.headers.get("HX-Request"):
            # htmx (the list's refresh) would swap the login page into the table: load it as a page.
            answer = Response(status=200)
            answer.headers["HX-Redirect"] = target
            return answer
        return redirect(target, 303)
    return None


@bp.after_request
def headers(response: Response) -> Response:
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"  # nobody can frame the buttons (clickjacking)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.context_processor
def helpers() -> dict[str, Any]:
    now = state().runtime.clock()  # not fresh_runtime(): an error page must render with Redis down
    return {
        "user": g.get("user"),
        "access": access(),
        "csrf_token": auth.csrf_token,
        "now": now,
        "ago": lambda ts: timefmt.ago(ts, now),
        "utc": timefmt.utc,
        "machine_time": timefmt.machine,
        "link": safe_link,
        "duration": format_duration,
    }


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an http(s) link, else None: alert fields are data from outside, and a
    ``javascript:`` URL in an ``href`` would run on click, escaping or not."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


@bp.errorhandler(NotFound)
@bp.errorhandler(IncidentNotFound)
def not_found(exc: Exception) -> tuple[str, int]:
    return problem(404, "Not found", "There is no such page or incident (it may have aged out).")


@bp.errorhandler(RedisConnectionError)
@bp.errorhandler(RedisTimeoutError)
def redis_down(exc: Exception) -> tuple[str, int]:
    return problem(503, "Redis is unreachable", "The responder cannot reach Redis. This page retries.")
