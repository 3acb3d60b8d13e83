"""Slack button clicks: signed requests are parsed; missing, wrong or stale signatures are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from responder.notify.slack_interactions import (
    InteractionMalformed,
    InteractionRejected,
    configured,
    parse_interaction,
)
from tests.fakes.notify_env import SECRETS

SECRET = SECRETS.signing_secret
NOW = 1_750_000_000.0


def click(action_id: str = "ack", value: str = "0123456789ab") -> dict[str, Any]:
    """A block_actions payload shaped like the one Slack sends."""
    return {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "alice", "name": "alice", "team_id": "T0001"},
        "team": {"id": "T0001", "domain": "example"},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": "1700000001.000001", "channel_id": "C00000002"},
        "channel": {"id": "C00000002", "name": "ops"},
        "message": {"ts": "1700000001.000001", "text": "[CRITICAL] APIQuotaExhaustion"},
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "incident_actions",
                "value": value,
                "action_ts": "1700000100.000200",
            }
        ],
    }


def signed(payload: Any, *, at: float = NOW, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(at))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body, headers


def test_a_signed_acknowledge_click_is_parsed_with_the_user() -> None:
    body, headers = signed(click("ack"))
    action = parse_interaction(body, headers, SECRET, now=lambda: NOW)

    assert (action.action_id, action.value, action.incident_id) == ("ack", "0123456789ab", "0123456789ab")
    assert (action.user_id, action.user_name) == ("U024BE7LH", "alice")
    assert (action.team_id, action.user_team_id) == ("T0001", "T0001")
    assert action.response_url == "https://hooks.slack.com/actions/T0001/1/abc"
    assert (action.channel_id, action.message_ts) == ("C00000002", "1700000001.000001")


@pytest.mark.parametrize("action_id", ["resolve", "silence_1h"])
def test_resolve_and_silence_clicks_carry_the_incident(action_id: str) -> None:
    body, headers = signed(click(action_id))
    assert parse_interaction(body, headers, SECRET, now=lambda: NOW).incident_id == "0123456789ab"


def test_an_approve_click_carries_run_and_step() -> None:
    body, headers = signed(click("approve", "0123456789abcdef:3"))
    action = parse_interaction(body, headers, SECRET, now=lambda: NOW)
    assert action.approval == ("0123456789abcdef", 3) and action.incident_id is None


@pytest.mark.parametrize(
    ("action_id", "value"),
    [("ack", "inc 1; drop"), ("ack", "0123456789ab:timeline"), ("resolve", "0123456789AB"),
     ("ack", "0123456789ab\n"), ("approve", "run-42"), ("approve", "0123456789abcdef:3:4")],
)  # fmt: skip
def test_a_value_that_names_no_incident_or_run_is_a_click_on_nothing(action_id: str, value: str) -> None:
    # Not malformed: Slack signed it, so the clicker is answered "unknown incident" by the job.
    body, headers = signed(click(action_id, value))
    action = parse_interaction(body, headers, SECRET, now=lambda: NOW)
    assert (action.value, action.incident_id, action.approval) == (value, None, None)


def test_a_click_signed_4_minutes_ago_is_still_accepted() -> None:
    body, headers = signed(click(), at=NOW - 240)
    assert parse_interaction(body, headers, SECRET, now=lambda: NOW).action_id == "ack"


def test_a_stale_signature_is_refused_even_if_correct() -> None:
    body, headers = signed(click(), at=NOW - 301)
    with pytest.raises(InteractionRejected, match="more than 5 minutes"):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_a_signature_from_the_future_is_refused() -> None:
    body, headers = signed(click(), at=NOW + 400)
    with pytest.raises(InteractionRejected):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_a_wrong_signature_is_refused() -> None:
    body, headers = signed(click(), secret="not-the-signing-secret")
    with pytest.raises(InteractionRejected, match="signature does not match") as refused:
        parse_interaction(body, headers, SECRET, now=lambda: NOW)
    assert SECRET not in str(refused.value)


def test_a_tampered_body_is_refused() -> None:
    body, headers = signed(click("ack"))
    tampered = body.replace(b"ack", b"resolve")
    with pytest.raises(InteractionRejected):
        parse_interaction(tampered, headers, SECRET, now=lambda: NOW)


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
def test_missing_signature_headers_are_refused(drop: str) -> None:
    body, headers = signed(click())
    del headers[drop]
    with pytest.raises(InteractionRejected, match="missing"):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_a_non_numeric_timestamp_is_refused() -> None:
    body, headers = signed(click())
    headers["X-Slack-Request-Timestamp"] = "yesterday"
    with pytest.raises(InteractionRejected):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_without_a_signing_secret_every_click_is_refused() -> None:
    body, headers = signed(click())
    with pytest.raises(InteractionRejected, match="SLACK_SIGNING_SECRET is not set"):
        parse_interaction(body, headers, "", now=lambda: NOW)
    assert configured({}) == "SLACK_SIGNING_SECRET is not set"
    assert configured({"SLACK_SIGNING_SECRET": SECRET}) is None


def test_headers_are_matched_case_insensitively() -> None:
    body, headers = signed(click())
    lowered = {k.lower(): v for k, v in headers.items()}
    assert parse_interaction(body, lowered, SECRET, now=lambda: NOW).action_id == "ack"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({**click(), "type": "view_submission"}, "unsupported interaction type"),
        (click("delete_everything"), "unknown action_id"),
        ({**click(), "actions": [{"action_id": "ack", "value": 42}]}, "has no value"),
        (click("ack", "0" * 2001), "has no value of up to 2000 characters"),
        ({**click(), "user": {}}, "no user id"),
        ({**click(), "actions": []}, "no actions"),
    ],
)
def test_signed_but_malformed_payloads_are_refused_as_malformed(payload: dict[str, Any], error: str) -> None:
    body, headers = signed(payload)
    with pytest.raises(InteractionMalformed, match=error):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_a_signed_body_without_payload_field_is_malformed() -> None:
    body = b"token=abc&text=hi"
    timestamp = str(int(NOW))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}
    with pytest.raises(InteractionMalformed, match="payload"):
        parse_interaction(body, headers, SECRET, now=lambda: NOW)


def test_the_real_clock_is_used_by_default() -> None:
    body, headers = signed(click(), at=time.time())
    assert parse_interaction(body, headers, SECRET).action_id == "ack"
