"""The dashboard's pages (GET): each asks :mod:`responder.dashboard.data` for its model and renders it."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from werkzeug.wrappers import Response

from responder.dashboard import data, reporting
from responder.dashboard import incident as incident_view
from responder.dashboard.blueprint import bp, page, runtime
from responder.ids import is_incident_id

ROWS_TARGET = "incident-rows"
"""The id of the list's table body, which htmx refreshes every 5 seconds."""


@bp.get("/")
def root() -> Response:
    return redirect(url_for("dashboard.incidents"))


@bp.get("/ui/")
def incidents() -> tuple[str, int]:
    listing = data.incident_list(runtime(), data.Filters.from_args(request.args))
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == ROWS_TARGET:
        return page("_rows.html", listing=listing, rows_target=ROWS_TARGET)
    return page("incidents.html", listing=listing, rows_target=ROWS_TARGET)


@bp.get("/ui/incidents/<incident_id>")
def incident(incident_id: str) -> tuple[str, int]:
    if not is_incident_id(incident_id):
        abort(404)
    return page("incident.html", view=incident_view.incident_page(runtime(), incident_id))


@bp.get("/ui/flags")
def flags() -> tuple[str, int]:
    return page("flags.html", view=data.flags_page(runtime()))


@bp.get("/ui/automation")
def automation() -> tuple[str, int]:
    return page("automation.html", view=data.automation_page(runtime()))


@bp.get("/ui/config")
def config() -> tuple[str, int]:
    return page("config.html", view=data.config_page(runtime()))


@bp.get("/ui/report")
def report() -> tuple[str, int]:
    since = request.args.get("since", "7d")
    compare = request.args.get("compare") in ("1", "on", "true")
    return page(
        "report.html", view=reporting.report_page(runtime(), since, compare), windows=reporting.WINDOWS
    )


@bp.route("/ui/<path:rest>", methods=["GET", "POST"])
def missing(rest: str) -> tuple[str, int]:
    """Any other /ui/ address: an HTML 404 (the app's own 404 is JSON, for API clients)."""
    abort(404)
