"""``POST /slack/interactions``: verify Slack's signature, queue the click, answer at once.

Slack wants an answer within 3 s, so the view only verifies and enqueues
:func:`responder.jobs.slack_action`; who may click (``access.slack``, which may need a Slack
API call for group membership), acknowledging, resolving, silencing and approving happen in
a worker, which answers a refused or unknown click in Slack itself. Nothing unsigned is
ever accepted: without ``SLACK_SIGNING_SECRET`` the endpoint answers 503. The signature
is checked over the raw bytes before anything parses them, and each signed body is acted
on once.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, jsonify, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from responder.notify import slack_interactions
from responder.notify.slack_interactions import InteractionMalformed, InteractionRejected
from responder.scheduling import DAY, JobSpec
from responder.webhook.errors import error
from responder.webhook.state import state

bp = Blueprint("slack", __name__)

SLACK_ACTION = "responder.jobs.slack_action"


@bp.post("/slack/interactions")
def interactions() -> tuple[Response, int]:
    secret = os.environ.get("SLACK_SIGNING_SECRET", "").strip()
    if not secret:
        return error(503, "SLACK_SIGNING_SECRET is not set: set it to the Slack app's signing secret")
    body = request.get_data(cache=False)
    try:
        click = slack_interactions.parse_interaction(body, dict(request.headers), secret)
    except InteractionRejected as exc:
        return error(401, str(exc))
    except InteractionMalformed as exc:
        return error(400, str(exc))
    runtime = state().runtime
    try:
        # Each signed body once: a replay within the 5-minute window changes nothing. It gets a 200
        # all the same, as a duplicate delivery (a retrying proxy) should: the first one was done.
        if slack_interactions.seen_before(runtime.redis, runtime.keys, request.headers["X-Slack-Signature"]):
            return jsonify({"ignored": "this signed request was already accepted"}), 200
        job = JobSpec(
            SLACK_ACTION,
            (click.to_job(),),
            failure_ttl=DAY,
            description=f"Slack click {click.action_id} by {click.user_id!r}",  # quoted: RQ logs it
        )
        runtime.scheduler.enqueue(job)
    except (RedisConnectionError, RedisTimeoutError):
        return error(503, "Redis is unreachable; nothing was done, click again later")
    return jsonify({"queued": click.action_id}), 200
