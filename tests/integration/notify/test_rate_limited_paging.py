"""A 429 from Slack during paging: the delivery waits out Retry-After as a scheduled job, not in a
worker, and later messages to the same channel wait behind it, so the thread stays in order.

On the runtime's moving clock: a worker that slept through Retry-After would have posted the
card before the ack could be handled; here the ack's job runs first and the card comes after.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from responder.clock import iso
from responder.runtime import Runtime
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, body, events, incidents_of, levels


def test_a_rate_limited_page_is_sent_after_retry_after_and_the_ack_behind_it_in_order(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    paging.slack.rate_limit_next(retry_after=2)
    assert paged_client.post("/webhook/alertmanager", data=body(alert("Paged"))).status_code == 200
    advance(runtime, 0)
    [incident] = incidents_of(runtime)
    opened = runtime.clock()

    # Level 1 went out on email and PagerDuty; Slack's card waits for its Retry-After.
    [level_1] = events(runtime, incident["id"], "escalation.level")
    slack_record = next(d for d in level_1["details"]["deliveries"] if d["channel"] == "slack")
    assert slack_record["status"] == "deferred"
    assert "rate limited (HTTP 429), retry after 2s" in slack_record["detail"]
    assert [r.api_method for r in paging.slack.requests] == ["chat.postMessage"]  # the refused one
    assert paging.slack.cards("#embedding-dev") == []

    # Meanwhile the on-call acknowledges (from the PagerDuty page): that job runs at once.
    assert paged_client.post(f"/api/incidents/{incident['id']}/ack", json={"by": "alice"}).status_code == 200
    advance(runtime, 0)
    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
    [told] = events(runtime, incident["id"], "notify.ack")
    assert told["details"]["deliveries"][0]["channel"] == "slack"
    assert told["details"]["deliveries"][0]["status"] == "queued"
    assert paging.slack.cards("#embedding-dev") == []  # the ack waits behind the card it edits

    advance(runtime, 1.9)
    assert paging.slack.cards("#embedding-dev") == []  # not before Retry-After
    advance(runtime, 1.1)  # RQ hands due jobs over at whole seconds: within a second after
    # Then the card, and only then the ack's edit and thread line: the order people would have seen.
    assert [r.api_method for r in paging.slack.requests] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]
    [card] = paging.slack.cards("#embedding-dev")
    assert "Acknowledged by *alice*" in str(card.blocks)
    assert [reply.text for reply in card.replies] == ["acknowledged by alice"]
    sent_late = events(runtime, incident["id"], "notify.delayed")
    assert [e["message"].split(" sent ")[0] for e in sent_late] == [
        "slack #embedding-dev: open message (level 1)",
        "slack #embedding-dev: ack message",
    ]
    assert sent_late[0]["at"] >= iso(opened + 2)
    assert [level for level, _ in levels(runtime, incident["id"])] == [1]
