"""``POST /webhook/alertmanager``: validate, authenticate, dedupe + enqueue, answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import ValidationError
from redis.exceptions import ResponseError

from responder.errors import ReplicasBehind
from responder.incidents import heartbeat
from responder.plan.severity import any_critical
from responder.store import connection, ingest
from responder.webhook.auth import token_ok
from responder.webhook.errors import error
from responder.webhook.limits import over_cap
from responder.webhook.models import WebhookPayload, alert_json
from responder.webhook.state import WebState, state

bp = Blueprint("alertmanager", __name__)

_MAPPINGS = frozenset({"labels", "annotations", "groupLabels", "commonLabels", "commonAnnotations"})
"""Fields whose keys are the sender's data: error locations must not echo them back."""


@dataclass(frozen=True)
class Checked:
    """A webhook request that passed every check, ready to be stored."""

    payload: WebhookPayload
    alerts: list[dict[str, Any]]
    """What dedupe and the heartbeat read of each alert."""
    encoded: list[bytes]
    """Each alert as pydantic's JSON of what it validated: what is stored."""
    urgent: bool
    """A firing alert in it would open or join a critical incident."""


def check(web: WebState) -> Checked | tuple[Response, int]:
    """Authenticate, read and validate the request, and apply the caps: what is stored, or the error
    answer (401, 400, 413). Reads nothing from Redis."""
    if not token_ok(request, web.webhook_token, allow_basic=True):
        return error(401, "missing or wrong token: send Authorization: Bearer $RESPONDER_WEBHOOK_TOKEN")
    body = request.get_data(cache=False)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error(400, f"the body is not UTF-8 (invalid byte at offset {exc.start}): send JSON in UTF-8")
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        detail = [
            {**err, "loc": _redacted(err["loc"])}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        message = "malformed JSON" if any(e["type"] == "json_invalid" for e in detail) else "invalid payload"
        return error(400, f"{message}: expected an Alertmanager webhook payload, version 4", detail)
    over = over_cap(payload, web.limits, len(body))
    if over is not None:
        capped = {"cap": over.env, "limit": over.limit, "size": over.size, "where": over.where}
        return error(413, f"over a cap on alerts: {over.message()}", capped)
    alerts = [
        {"fingerprint": a.fingerprint, "status": a.status, "startsAt": a.startsAt, "labels": a.labels}
        for a in payload.alerts
    ]
    return Checked(
        payload,
        alerts,
        [alert_json(a) for a in payload.alerts],
        any_critical(web.runtime.rules, alerts),
    )


@bp.post("/webhook/alertmanager")
def receive() -> tuple[Response, int]:
    web = state()
    received_at = web.runtime.clock()
    checked = check(web)
    if not isinstance(checked, Checked):
        return checked
    payload, alerts = checked.payload, checked.alerts
    try:
        result = ingest.accept(
            web.runtime,
            alerts,
            payload.groupKey,
            received_at,
            payload.truncatedAlerts,
            wait_replicas=web.wait_replicas,
            encoded=checked.encoded,
            urgent=checked.urgent,
        )
        heartbeat.note_receipt(web.runtime, alerts, received_at)
    except connection.UNAVAILABLE:
        return error(503, "Redis is unreachable; nothing was accepted, retry later")
    except ResponseError as exc:
        if not connection.unavailable(exc):
            raise
        return error(503, "Redis is failing over; nothing was accepted, retry later")
    except ReplicasBehind as exc:
        current_app.logger.warning("answered 503: %s", exc)
        return error(503, f"{exc}; retry later", {"replicas": exc.wanted, "confirmed": exc.confirmed})
    if payload.truncatedAlerts:
        current_app.logger.warning(
            # %r: the group key is the sender's text, and a newline in it must not forge a log line.
            "Alertmanager truncated %d alerts of group %r: raise max_alerts in its webhook_config",
            payload.truncatedAlerts,
            payload.groupKey,
        )
    answer = f'{{"accepted":{result.accepted},"duplicates":{result.duplicates}}}\n'
    return current_app.response_class(answer, mimetype="application/json"), 200


def _redacted(loc: tuple[Any, ...]) -> list[Any]:
    """``loc`` with label and annotation names replaced: the answer never repeats what was sent."""
    return ["<key>" if i and loc[i - 1] in _MAPPINGS else part for i, part in enumerate(loc)]
