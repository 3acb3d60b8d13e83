"""The dashboard's buttons (POST, CSRF-checked in :mod:`responder.dashboard.blueprint`), through the
same code as Slack and the API, with the dashboard user as ``by``.

Acknowledge, Resolve and Approve run in the request: each is one Redis transaction (with
a short lock for Approve) that queues its own slow follow-up (the Slack edit, the
PagerDuty ack, the approved step) as jobs, exactly as the API does; so the page that
comes back already shows the new state. Silence calls Alertmanager over the network,
so it is queued as a job (:func:`responder.jobs.dashboard_silence`) and the timeline
says when it is done. Every answer redirects (303) to the page the button was on, so a
plain form post without JavaScript works the same and a reload never repeats a click.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from werkzeug.wrappers import Response

from responder.dashboard.blueprint import bp, runtime
from responder.errors import ApprovalRefused
from responder.ids import is_incident_id, is_run_id
from responder.incidents import lifecycle
from responder.playbooks import approval
from responder.scheduling import JobSpec
from responder.store import guards, incidents, runs

SILENCE_JOB = "responder.jobs.dashboard_silence"
RESOLVE_REASON = "from the dashboard"


def _back(incident_id: str) -> Response:
    return redirect(url_for("dashboard.incident", incident_id=incident_id), 303)


@bp.post("/ui/incidents/<incident_id>/<any(ack, resolve, silence):action>")
def incident_button(incident_id: str, action: str) -> Response:
    if not is_incident_id(incident_id):
        abort(404)
    rt, by = runtime(), g.user
    incidents.get(rt.redis, rt.keys, incident_id)  # IncidentNotFound -> 404 page
    if action == "ack":
        changed = lifecycle.acknowledge(rt, incident_id, by)
        flash("Acknowledged: escalation stopped." if changed else "Already acknowledged or resolved.")
    elif action == "resolve":
        changed = lifecycle.resolve(rt, incident_id, by, reason=RESOLVE_REASON)
        flash("Resolved." if changed else "Already resolved.")
    else:
        spec = JobSpec(SILENCE_JOB, (incident_id, by), timeout=60, description=f"silence {incident_id}")
        rt.scheduler.enqueue(spec)
        flash("Silence 1h requested: the timeline shows the silence once Alertmanager has it.")
    return _back(incident_id)


@bp.post("/ui/runs/<run_id>/steps/<int:index>/approve")
def approve(run_id: str, index: int) -> Response:
    if not is_run_id(run_id):
        abort(404)
    rt = runtime()
    run = runs.load(rt.redis, rt.keys, run_id)
    if run is None:
        abort(404)
    confirm = run.confirm and index == 0
    try:
        changed = approval.approve(rt, run_id, index, g.user)
    except ApprovalRefused as exc:
        flash(f"Not {'started' if confirm else 'approved'}: {exc}")
        return _back(run.incident_id)
    if confirm:
        flash(
            f"Confirmed: {run.playbook} runs now."
            if changed
            else f"{run.playbook} is not waiting for a Run click (any more)."
        )
    else:
        flash(
            f"Approved step {index + 1} of {run.playbook}: it runs now."
            if changed
            else f"Step {index + 1} of {run.playbook} is not waiting for approval (any more)."
        )
    return _back(run.incident_id)


@bp.post("/ui/automation/<any(pause, resume):action>")
def automation_button(action: str) -> Response:
    rt = runtime()
    guards.set_paused(rt.redis, rt.keys, action == "pause")
    flash(
        "Automation paused: no playbook step runs; paging goes on."
        if action == "pause"
        else "Automation resumed."
    )
    return redirect(url_for("dashboard.automation"), 303)
