"""``POST /slack/interactions`` at its edges: any bytes get a 4xx (never a 500), the signature is
checked over the raw bytes before anything parses them, and each signed body is acted on once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import queued

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    return create_app(runtime, webhook_token="t", api_token="a").test_client()


def sign(body: bytes, at: int | None = None, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp if timestamp is not None else str(int(time.time()) if at is None else at)
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}", "Content-Type": FORM}


def form(payload_json: str) -> bytes:
    return urlencode({"payload": payload_json}).encode()


def click(action_id: str = "ack", value: str = "0123456789ab") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice"},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }


def post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = client.post("/slack/interactions", data=body, headers=headers)
    assert response.mimetype == "application/json"
    return response.status_code, response.get_json()


# --- bytes that used to make it 500 ------------------------------------------------------------


def test_a_non_utf8_body_without_a_valid_signature_is_401(client: FlaskClient, runtime: Runtime) -> None:
    body = b"payload=\xff\xfe\x80"
    headers = {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=00",
        "Content-Type": FORM,
    }

    assert post(client, body, headers) == (
        401,
        {"error": "signature does not match; check SLACK_SIGNING_SECRET"},
    )
    assert queued(runtime) == 0


def test_a_signed_non_utf8_body_is_400(client: FlaskClient, runtime: Runtime) -> None:
    body = b"payload=\xff\xfe\x80"

    assert post(client, body, sign(body)) == (400, {"error": "body is not UTF-8"})
    assert queued(runtime) == 0


@pytest.mark.parametrize(
    "payload_json",
    [
        # json.loads raised RecursionError on these (its limit is about 1000 levels).
        '{"type": "block_actions", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"a":' * 3000 + "1" + "}" * 3000,
        '{"type": "block_actions", "n": ' + "9" * 5000 + "}",  # over Python's int digit limit
        '{"type": "block_actions", "s": "\\ud800"}',
    ],
    ids=["nested-arrays", "nested-objects", "huge-integer", "lone-surrogate"],
)
def test_a_signed_payload_that_does_not_parse_is_400(
    client: FlaskClient, runtime: Runtime, payload_json: str
) -> None:
    body = form(payload_json)
    assert len(body) < 64 * 1024  # under the size limit: it is the parser that must refuse it

    assert post(client, body, sign(body)) == (400, {"error": "payload is not JSON"})
    assert queued(runtime) == 0


@pytest.mark.parametrize("stamp", ["\u0661\u0667\u0665\u0660", "1_750_000_000", "1" * 40])
def test_a_timestamp_that_is_not_ascii_digits_is_401(client: FlaskClient, stamp: str) -> None:
    body = form(json.dumps(click()))
    headers = sign(body, timestamp=stamp)

    status, document = post(client, body, {k: v.encode().decode("latin-1") for k, v in headers.items()})

    assert (status, document) == (401, {"error": "X-Slack-Request-Timestamp is not a Unix time"})


def test_a_value_that_is_not_a_string_is_400(client: FlaskClient, runtime: Runtime) -> None:
    body = form(json.dumps({**click(), "actions": [{"action_id": "ack", "value": ["0123456789ab"]}]}))

    assert post(client, body, sign(body)) == (
        400,
        {"error": "action ack has no value of up to 2000 characters"},
    )
    assert queued(runtime) == 0


def test_an_incident_id_with_a_trailing_newline_is_queued_to_be_answered_unknown(
    client: FlaskClient, runtime: Runtime
) -> None:
    # Slack signed it: the clicker deserves an answer ("unknown incident", from the worker), not a 400.
    body = form(json.dumps(click("ack", "0123456789ab\n")))

    assert post(client, body, sign(body)) == (200, {"queued": "ack"})
    assert queued(runtime) == 1


# --- replays ----------------------------------------------------------------------------------


def test_a_replayed_signed_click_is_acted_on_once(client: FlaskClient, runtime: Runtime) -> None:
    body = form(json.dumps(click("silence_1h")))
    headers = sign(body)

    first = post(client, body, headers)
    replays = [post(client, body, headers) for _ in range(3)]

    assert first == (200, {"queued": "silence_1h"})
    assert replays == [(200, {"ignored": "this signed request was already accepted"})] * 3
    assert queued(runtime) == 1


def test_the_same_click_signed_again_later_is_a_new_click(client: FlaskClient, runtime: Runtime) -> None:
    body = form(json.dumps(click("ack")))
    now = int(time.time())

    assert post(client, body, sign(body, at=now - 1))[0] == 200
    assert post(client, body, sign(body, at=now))[0] == 200
    assert queued(runtime) == 2


def test_a_replay_is_remembered_for_the_whole_window_in_which_its_timestamp_is_valid(
    client: FlaskClient, runtime: Runtime
) -> None:
    body = form(json.dumps(click("ack")))
    headers = sign(body)

    post(client, body, headers)

    [key] = runtime.redis.keys(f"{runtime.keys.prefix}:slack:signature:*")
    # Valid while |now - timestamp| <= 300 s, so up to 600 s after the first delivery.
    assert 600 < runtime.redis.ttl(key) <= 660
