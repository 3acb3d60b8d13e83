"""The operator API: incidents, flags, the kill switch and config reload (``Bearer $RESPONDER_API_TOKEN``)."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from responder import ids
from responder.errors import ApprovalRefused, ConfigError, IncidentNotFound
from responder.incidents import lifecycle
from responder.playbooks import approval
from responder.store import flags, guards, incidents, runs
from responder.store.records import IncidentStatus
from responder.webhook.errors import error
from responder.webhook.operator import operator_blueprint
from responder.webhook.state import state

bp = operator_blueprint("api", __name__)


@bp.errorhandler(IncidentNotFound)
def not_found(exc: IncidentNotFound) -> tuple[Response, int]:
    return error(404, str(exc))


def _incident_id(incident_id: str) -> str:
    """The id, when it is one (docs/operations.md, HTTP API); anything else is a 404 that never reaches Redis.

    Raises:
        IncidentNotFound: not 12 lowercase hex digits (``<id>:timeline`` named another key).
    """
    if not ids.is_incident_id(incident_id):
        raise IncidentNotFound(f"no such incident: {ids.INCIDENT_RULE}")
    return incident_id


@bp.get("/api/incidents")
def list_incidents() -> tuple[Response, int]:
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in IncidentStatus}:
        return error(400, f'unknown status "{status}": use triggered, acknowledged or resolved')
    try:
        limit = min(int(request.args.get("limit", "100")), 1000)
    except ValueError:
        return error(400, "limit must be a whole number")
    runtime = state().fresh_runtime()
    wanted = IncidentStatus(status) if status is not None else None
    records = incidents.listing(runtime.redis, runtime.keys, wanted, limit)
    return jsonify({"incidents": [r.public() for r in records]}), 200


@bp.get("/api/incidents/<incident_id>")
def show_incident(incident_id: str) -> tuple[Response, int]:
    _incident_id(incident_id)
    runtime = state().fresh_runtime()
    record = incidents.get(runtime.redis, runtime.keys, incident_id).public()
    record["alerts"] = [a.to_webhook() for a in incidents.alerts(runtime.redis, runtime.keys, incident_id)]
    record["timeline"] = [e.public() for e in incidents.timeline(runtime.redis, runtime.keys, incident_id)]
    return jsonify(record), 200


def _by() -> str | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("by"), str) or not body["by"].strip():
        return None
    return str(body["by"]).strip()[:200]


# Each transition: the service function and what the 400 says when the body does not name who acts.
_TRANSITIONS = {
    "ack": (lifecycle.acknowledge, "acknowledgements say who took the incident"),
    "resolve": (lifecycle.resolve, "resolutions say who closed the incident"),
}


@bp.post("/api/incidents/<incident_id>/<any(ack, resolve):action>")
def transition(incident_id: str, action: str) -> tuple[Response, int]:
    change, why = _TRANSITIONS[action]
    _incident_id(incident_id)
    by = _by()
    if by is None:
        return error(400, f'send {{"by": "your name"}}: {why}')
    runtime = state().fresh_runtime()
    changed = change(runtime, incident_id, by)
    record = incidents.get(runtime.redis, runtime.keys, incident_id).public()
    return jsonify({"changed": changed, "incident": record}), 200


@bp.post("/api/runs/<run_id>/approve")
def approve(run_id: str) -> tuple[Response, int]:
    """Approve the step a run waits on (``requires_approval``), or confirm a run waiting for a Run click
    (``automation: confirm``: its first step), as the Slack buttons do.

    API-token holders are not subject to ``access.slack``; but a wait that expired, or an
    incident that resolved, refuses their approval too (409, recorded in the timeline).
    """
    if not ids.is_run_id(run_id):
        return error(404, f"no such playbook run: {ids.RUN_RULE}")
    by = _by()
    if by is None:
        return error(400, 'send {"by": "your name", "step": N}: approvals say who approved')
    body = request.get_json(silent=True) or {}
    runtime = state().fresh_runtime()
    run = runs.load(runtime.redis, runtime.keys, run_id)
    if run is None:
        return error(404, f'no playbook run "{run_id}"')
    step = body.get("step", run.step)
    if not isinstance(step, int) or isinstance(step, bool):
        return error(400, "step must be the step's index (as in the timeline's details.step)")
    try:
        changed = approval.approve(runtime, run_id, step, by)
    except ApprovalRefused as exc:
        return error(409, str(exc))
    after = runs.load(runtime.redis, runtime.keys, run_id)
    status = after.status.value if after is not None else "unknown"
    answer = {"changed": changed, "run": run_id, "step": step, "status": status, "playbook": run.playbook}
    if run.confirm and step == 0:
        answer["confirmation"] = True  # the Run click of an automation: confirm run
    return jsonify(answer), 200


@bp.get("/api/flags")
def get_flags() -> tuple[Response, int]:
    runtime = state().runtime
    return jsonify(flags.all_flags(runtime.redis, runtime.keys)), 200


@bp.put("/api/flags/<name>")
def put_flag(name: str) -> tuple[Response, int]:
    runtime = state().fresh_runtime()
    try:
        # The app's JSON provider (pydantic's parser): deep nesting is a ValueError, not a 500.
        value = current_app.json.loads(request.get_data() or b"null")
    except ValueError:
        return error(400, "the body must be the flag's new value as JSON")
    if not flags.exists(runtime.redis, runtime.keys, name):
        return error(404, f'unknown flag "{name}": add it to `flags` in responder.yaml')
    flags.set_value(runtime.redis, runtime.keys, name, value, flags.FlagChange(flags.API, runtime.clock()))
    return jsonify({name: value}), 200


@bp.post("/api/automation/pause")
def pause() -> tuple[Response, int]:
    runtime = state().runtime
    guards.set_paused(runtime.redis, runtime.keys, True)
    return jsonify({"automation": "paused", "paging": "on"}), 200


@bp.post("/api/automation/resume")
def resume() -> tuple[Response, int]:
    runtime = state().runtime
    guards.set_paused(runtime.redis, runtime.keys, False)
    return jsonify({"automation": "running"}), 200


@bp.get("/api/automation")
def automation() -> tuple[Response, int]:
    runtime = state().runtime
    paused = guards.is_paused(runtime.redis, runtime.keys)
    return jsonify({"automation": "paused" if paused else "running"}), 200


@bp.post("/-/reload")
def reload() -> tuple[Response, int]:
    runtime = state().runtime
    try:
        config = runtime.reload()
    except ConfigError as exc:
        return error(400, "config refused; the last good config stays", [str(i) for i in exc.issues])
    runtime.config_version = int(runtime.redis.incr(runtime.keys.config_version))
    return jsonify(
        {"status": "reloaded", "rules": len(config.rules), "playbooks": len(config.playbooks)}
    ), 200
