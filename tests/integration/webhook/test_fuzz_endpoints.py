"""Fuzzing the two endpoints strangers can reach: no body, header or signature makes a 5xx,
and nothing the webhook accepts makes a worker job fail.

Examples are bounded (``EXAMPLES`` per endpoint, no deadline) so CI stays fast; the strategies
mix junk with near-valid payloads, so most examples get past the parser and reach the checks
behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq.registry import FailedJobRegistry

from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import drain, lane_queues

EXAMPLES = 200
TOKEN = "fuzz-webhook-token"
SECRET = "fuzz-signing-secret-7c1e"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree; failures print their example
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# --- values -----------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("ab\n\x00{}% \u2028\u00e9\U0001f525"), max_size=40),
    st.sampled_from(["{{ 7*7 }}", "{{ secret.X }}", "a\nERROR forged", "x" * 5000]),
)
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
timestamps = st.sampled_from(
    ["2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123456789+02:00", "0001-01-01T00:00:00Z"]
)
names = st.sampled_from(["APIQuotaExhaustion", "Templated", "Flaky", "Unrouted"]) | odd_text


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid document with one value somewhere inside replaced by any JSON value."""
    document = draw(valid)
    spots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in items:
            spots.append((node, key))
            walk(child)

    walk(document)
    if spots:
        node, key = draw(st.sampled_from(spots))
        node[key] = draw(json_value)
    return document


alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.dictionaries(odd_text, odd_text, max_size=5).flatmap(
            lambda labels: st.builds(lambda name: {**labels, "alertname": name}, names)
        ),
        "startsAt": timestamps,
        "fingerprint": st.text(alphabet="0123456789abcdef", min_size=1, max_size=16),
    },
    optional={
        "annotations": st.dictionaries(odd_text, odd_text, max_size=3),
        "endsAt": timestamps,
        "generatorURL": odd_text,
        "extra": json_value,
    },
)
payloads = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": odd_text,
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": odd_text,
        "alerts": st.lists(alerts, max_size=4),
    },
    optional={
        "truncatedAlerts": st.integers(min_value=0, max_value=10**9),
        "groupLabels": st.dictionaries(odd_text, odd_text, max_size=3),
        "commonLabels": json_value,
        "externalURL": odd_text,
    },
)
plain_text = st.text(alphabet="abcdefghij-_. 0123456789", min_size=1, max_size=20)
plain_payloads = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": plain_text,
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": plain_text,
        "alerts": st.lists(
            st.fixed_dictionaries(
                {
                    "status": st.sampled_from(["firing", "resolved"]),
                    "labels": st.dictionaries(plain_text, plain_text, max_size=3).flatmap(
                        lambda labels: st.builds(lambda name: {**labels, "alertname": name}, names)
                    ),
                    "startsAt": timestamps,
                    "fingerprint": st.text(alphabet="0123456789abcdef", min_size=1, max_size=16),
                }
            ),
            max_size=4,
        ),
    }
)
"""Payloads most of which are valid: a good share of the examples get past the parser and caps, so
the routing and the workers behind them are fuzzed too (the odd ones above mostly stop at a 400)."""
webhook_bodies = st.one_of(
    plain_payloads.map(lambda p: json.dumps(p).encode()),
    payloads.map(lambda p: json.dumps(p).encode()),
    mutated(payloads).map(lambda p: json.dumps(p).encode()),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
)


# --- the webhook ------------------------------------------------------------------------------


@pytest.fixture
def client(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    return create_app(runtime, webhook_token=TOKEN, api_token="fuzz-api-token").test_client()


def test_no_webhook_body_makes_a_5xx_or_a_failing_job(client: FlaskClient, runtime: Runtime) -> None:
    answers: dict[int, int] = {}

    @FUZZ
    @given(
        data=webhook_bodies,
        authorized=st.booleans(),
        content_type=st.sampled_from(["application/json", "text/plain"]),
    )
    def post(data: bytes, authorized: bool, content_type: str) -> None:
        headers = {
            "Authorization": f"Bearer {TOKEN if authorized else 'wrong'}",
            "Content-Type": content_type,
        }
        response = client.post("/webhook/alertmanager", data=data, headers=headers)
        assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
        assert response.is_json
        answers[response.status_code] = answers.get(response.status_code, 0) + 1

    post()

    assert answers.get(200, 0) > 0 and answers.get(400, 0) > 0  # the fuzzing reached both sides of the parser
    drain(runtime, timeout=120)
    failed = [
        queue.fetch_job(job_id)
        for queue in lane_queues(runtime)
        for job_id in FailedJobRegistry(queue=queue).get_job_ids()
    ]
    assert [(job.description, job.latest_result()) for job in failed if job is not None] == []


# --- Slack interactions -----------------------------------------------------------------------

actions = st.fixed_dictionaries(
    {
        "action_id": st.sampled_from(["ack", "resolve", "silence_1h", "approve"]),
        "value": st.sampled_from(["0123456789ab", "run-1:0", "fedcba987654"]) | odd_text,
    },
    optional={"type": json_value},
)
clicks = st.fixed_dictionaries(
    {
        "type": st.just("block_actions"),
        "user": st.fixed_dictionaries(
            {"id": st.just("U0ALICE") | odd_text}, optional={"username": json_value}
        ),
        "actions": st.lists(actions, min_size=1, max_size=2),
    },
    optional={
        "channel": json_value,
        "container": json_value,
        "response_url": json_value,
        "message": json_value,
    },
)
slack_bodies = st.one_of(
    clicks.map(lambda c: urlencode({"payload": json.dumps(c)}).encode()),
    mutated(clicks).map(lambda c: urlencode({"payload": json.dumps(c)}).encode()),
    json_value.map(lambda v: urlencode({"payload": json.dumps(v)}).encode()),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=5000).map(
        lambda n: urlencode({"payload": "[" * n + "]" * n}).encode()
    ),
)


def sign(body: bytes, at: int) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), f"v0:{at}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(at), "X-Slack-Signature": f"v0={digest}"}


header_junk = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=30)


def test_no_slack_body_or_signature_makes_a_5xx(client: FlaskClient) -> None:
    answers: dict[int, int] = {}

    @FUZZ
    @given(
        data=slack_bodies,
        signing=st.sampled_from(["signed", "signed", "stale", "junk", "none"]),
        junk=st.tuples(header_junk, header_junk),
    )
    def post(data: bytes, signing: str, junk: tuple[str, str]) -> None:
        now = int(time.time())
        headers = {
            "signed": sign(data, now),
            "stale": sign(data, now - 600),
            "junk": {"X-Slack-Request-Timestamp": junk[0], "X-Slack-Signature": junk[1]},
            "none": {},
        }[signing]
        response = client.post(
            "/slack/interactions",
            data=data,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
        answers[response.status_code] = answers.get(response.status_code, 0) + 1

    post()

    assert answers.get(200, 0) > 0 and answers.get(400, 0) > 0 and answers.get(401, 0) > 0
