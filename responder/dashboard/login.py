"""``/ui/login`` (a name and the API token, once) and ``/ui/logout``."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from responder.dashboard import auth
from responder.dashboard.blueprint import access, bp, page


def _next() -> str:
    """Where to go after logging in: a dashboard page of this site, never another site (open redirect)."""
    target = request.values.get("next") or ""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.incidents")


@bp.route("/ui/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    rules = access()
    if g.user is not None:
        return redirect(_next(), 303)
    if request.method == "GET" or rules.api_token is None:
        return page("login.html", 200 if rules.api_token else 401, next=_next(), error=None, name="")
    name = auth.clean_name(request.form.get("name"))
    token = request.form.get("token") or ""
    if name is None:
        return page(
            "login.html", 400, next=_next(), error="Say who you are: your name goes in the timeline.", name=""
        )
    if not auth.token_matches(rules, token):
        # The token is never echoed back, not even in the form.
        return page("login.html", 401, next=_next(), error="Wrong token: use RESPONDER_API_TOKEN.", name=name)
    auth.log_in(rules, name)
    return redirect(_next(), 303)


@bp.post("/ui/logout")
def logout() -> Response:
    auth.log_out()
    flash("Signed out.")
    return redirect(url_for("dashboard.login"), 303)
