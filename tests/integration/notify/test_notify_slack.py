"""Slack through the real slack-sdk WebClient against a fake Slack Web API on loopback."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from responder.config.models import Team
from responder.errors import NotifyError, RateLimited
from responder.notify.base import Approval, Kind, Message
from responder.notify.slack import SlackChannel
from responder.store.records import Incident
from tests.fakes.notify_env import FAST_RETRY as FAST
from tests.fakes.notify_env import PUBLIC_URL, SECRETS
from tests.fakes.slack import FakeSlack

SLACK_TOKEN = SECRETS.slack_token

OPS = Team(slack="#ops")


def channel(env: dict[str, str]) -> SlackChannel:
    return SlackChannel.from_env(env, retry=FAST)


def message(incident: Incident, kind: Kind = "open", **kw: Any) -> Message:
    text = kw.pop("text", f"{kind} happened")
    url = f"{PUBLIC_URL}/api/incidents/{incident.id}"
    return Message(kind=kind, incident=incident, text=text, incident_url=url, **kw)


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text in a Block Kit message, to assert what a person would read."""
    out = []
    for block in blocks:
        for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(part, dict):
                text = part.get("text")
                out.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_first_send_posts_one_block_kit_card_with_buttons(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    delivery = channel(env).send(message(incident), "ops-team", OPS, None)

    [request] = slack.requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.content_type.startswith("application/json")
    assert request.authorization == f"Bearer {SLACK_TOKEN}"
    body = request.body
    assert body["channel"] == "#ops"
    assert "APIQuotaExhaustion" in body["text"]
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[CRITICAL] APIQuotaExhaustion"},
    }
    shown = texts(blocks)
    assert "API quota at 97% &lt;embedding-api&gt; &amp; rising" in shown  # data is escaped, never markup
    assert "*Severity*\ncritical" in shown and "*Status*\ntriggered" in shown
    assert "*Rule*\napi_quota_exhaustion" in shown and "*Level*\n1" in shown
    assert "`alertname=APIQuotaExhaustion`" in shown and "`namespace=embedding`" in shown
    assert "<http://prometheus.example.com/graph?g0.expr=quota_used%3E0.95|Alert source>" in shown
    assert f"<{PUBLIC_URL}/api/incidents/inc-20250101-0001|Incident inc-20250101-0001>" in shown
    assert buttons(blocks) == [
        ("ack", "inc-20250101-0001"),
        ("resolve", "inc-20250101-0001"),
        ("silence_1h", "inc-20250101-0001"),
    ]
    [card] = slack.cards("#ops")
    assert delivery.ref == f"{card.channel}:{card.ts}"
    assert (delivery.channel, delivery.target, delivery.status) == ("slack", "#ops", "sent")


def test_ack_edits_the_card_in_place_and_says_so_in_its_thread(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "ops-team", OPS, None).ref
    delivery = ch.send(
        message(incident, "ack", by="alice", text="Acknowledged by alice"), "ops-team", OPS, ref
    )

    assert delivery.ref == ref
    [card] = slack.cards("#ops")  # still exactly one message in the channel
    update = slack.calls("chat.update")[0].body
    assert (update["channel"], update["ts"]) == (card.channel, card.ts)
    assert "Acknowledged by *alice*" in texts(update["blocks"])
    assert "*Status*\nacknowledged" in texts(update["blocks"])
    assert [a for a, _ in buttons(update["blocks"])] == ["resolve", "silence_1h"]
    assert card.edits == 1 and card.action_ids() == ["resolve", "silence_1h"]
    [reply] = card.replies
    assert reply.thread_ts == card.ts and reply.text == "Acknowledged by alice"


def test_resolve_removes_the_buttons(slack: FakeSlack, env: dict[str, str], incident: Incident) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "ops-team", OPS, None).ref
    ch.send(message(incident, "resolve", by="bob", text="Resolved by bob"), "ops-team", OPS, ref)

    [card] = slack.cards("#ops")
    assert card.action_ids() == []
    assert "Resolved by *bob*" in texts(card.blocks) and "*Status*\nresolved" in texts(card.blocks)
    assert [r.text for r in card.replies] == ["Resolved by bob"]


def test_escalation_edits_the_card_and_threads_the_reason(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "ops-team", OPS, None).ref
    ch.send(
        message(incident, "escalate", level=2, text="Level 2: nobody acknowledged in 2m"),
        "ops-team",
        OPS,
        ref,
    )

    [card] = slack.cards("#ops")
    assert "*Level*\n2" in texts(card.blocks)
    assert card.action_ids() == ["ack", "resolve", "silence_1h"]
    assert [r.text for r in card.replies] == ["Level 2: nobody acknowledged in 2m"]


def test_notes_and_step_outcomes_go_to_the_thread_with_approve_for_approval_steps(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "ops-team", OPS, None).ref
    ch.send(message(incident, "note", text="Workers restarted"), "ops-team", OPS, ref)
    approval = Approval(run_id="run-42", step_index=3)
    ch.send(
        message(incident, "step", text="Step 3 kubernetes.scale waits for approval", approval=approval),
        "ops-team",
        OPS,
        ref,
    )

    assert slack.calls("chat.update") == []
    [card] = slack.cards("#ops")
    note, step = card.replies
    assert note.text == "Workers restarted" and note.action_ids() == []
    assert buttons(step.blocks) == [("approve", "run-42:3")]
    assert all(r.body.get("thread_ts") == card.ts for r in slack.calls("chat.postMessage")[1:])


def test_a_429_raises_rate_limited_with_retry_after_instead_of_sleeping(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    slack.rate_limit_next(retry_after=30)
    ch = channel(env)
    with pytest.raises(RateLimited) as limited:
        ch.send(message(incident), "ops-team", OPS, None)

    assert limited.value.retry_after == 30.0 and limited.value.ref is None
    assert str(limited.value) == "slack: chat.postMessage to #ops: rate limited (HTTP 429), retry after 30s"
    assert len(slack.calls("chat.postMessage")) == 1  # asked once, not again after sleeping 30 s
    # The retry (what the re-enqueued job does) posts the card once.
    delivery = ch.send(message(incident), "ops-team", OPS, None)
    [card] = slack.cards("#ops")
    assert delivery.ref == f"{card.channel}:{card.ts}"


def test_a_note_whose_thread_line_is_rate_limited_keeps_the_card_it_posted(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    slack.answer_next(200, {"ok": True, "channel": "C00000002", "ts": "1700000099.000001"})
    slack.rate_limit_next(retry_after=1)
    with pytest.raises(RateLimited) as limited:
        channel(env).send(message(incident, "note", text="Workers restarted"), "ops-team", OPS, None)

    # The retry edits onto this card instead of posting a second one.
    assert limited.value.ref == "C00000002:1700000099.000001"


def test_channel_not_found_fails_with_slacks_error(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    slack.answer_next(400, {"ok": False, "error": "channel_not_found"})
    with pytest.raises(NotifyError) as failure:
        channel(env).send(message(incident), "ops-team", OPS, None)

    assert "HTTP 400" in str(failure.value) and "channel_not_found" in str(failure.value)
    assert len(slack.requests) == 1  # a 4xx is final, not retried


def test_unknown_channel_answered_ok_false_fails_with_that_error(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    with pytest.raises(NotifyError, match="channel_not_found"):
        channel(env).send(message(incident), "x", Team(slack="#no-such-channel"), None)


def test_server_errors_are_retried_a_bounded_number_of_times(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    for _ in range(3):
        slack.answer_next(503, "upstream unavailable")
    with pytest.raises(NotifyError, match=r"HTTP 503 \(still failing after retries\): upstream unavailable"):
        channel(env).send(message(incident), "ops-team", OPS, None)
    assert len(slack.requests) == FAST.attempts


def test_server_error_then_success_delivers_once(
    slack: FakeSlack, env: dict[str, str], incident: Incident
) -> None:
    slack.answer_next(500, {"ok": False, "error": "internal_error"})
    channel(env).send(message(incident), "ops-team", OPS, None)
    assert len(slack.cards("#ops")) == 1


def test_the_token_never_appears_in_errors_or_logs(
    slack: FakeSlack, env: dict[str, str], incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A misbehaving proxy that echoes the request's Authorization header back.
    slack.answer_next(400, {"ok": False, "error": f"invalid_auth for Bearer {SLACK_TOKEN}"})
    with pytest.raises(NotifyError) as failure:
        channel(env).send(message(incident), "ops-team", OPS, None)
    shown = "".join(traceback.format_exception(failure.value)) + repr(failure.value)
    assert "invalid_auth" in shown
    assert SLACK_TOKEN not in shown
    assert SLACK_TOKEN not in caplog.text


def test_unreachable_slack_fails_without_the_token(
    env: dict[str, str], incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ch = SlackChannel.from_env({**env, "SLACK_API_URL": "http://127.0.0.1:9/api/"}, retry=FAST)
    with pytest.raises(NotifyError, match="could not reach") as failure:
        ch.send(message(incident), "ops-team", OPS, None)
    assert SLACK_TOKEN not in "".join(traceback.format_exception(failure.value))
    assert SLACK_TOKEN not in caplog.text


def test_without_a_token_slack_says_what_is_missing(env: dict[str, str]) -> None:
    assert SlackChannel.from_env({**env, "SLACK_BOT_TOKEN": ""}).configured() == "SLACK_BOT_TOKEN is not set"
    assert SlackChannel.from_env(env).configured() is None
