"""What the webhook refuses before anything is stored: out-of-range counts and oversized alerts,
and what it logs about a sender's text (quoted, so a newline cannot forge a log line)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.test import TestResponse

from responder.errors import ConfigError
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain, payload, queued

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime, webhook_token=TOKEN, api_token="api-t0ken").test_client()


def post(client: FlaskClient, data: bytes | str) -> TestResponse:
    return client.post("/webhook/alertmanager", data=data, headers=AUTH, content_type="application/json")


def stored(runtime: Runtime) -> list[str]:
    """Every Redis key this responder owns, and the jobs queued: unchanged when a request left nothing."""
    redis: Redis = runtime.redis
    found = sorted(k.decode() for k in redis.scan_iter(f"{runtime.keys.prefix}:*", count=1000))
    waiting = queued(runtime)
    return found + [f"{waiting} queued jobs"] * bool(waiting)


# --- truncatedAlerts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [(-1, "greater_than_equal"), (2**63, "less_than_equal"), (10**9 + 1, "less_than_equal")],
)
def test_truncated_alerts_out_of_range_is_400_and_nothing_is_stored(
    client: FlaskClient, runtime: Runtime, value: int, kind: str
) -> None:
    sent = payload(alert("APIQuotaExhaustion")) | {"truncatedAlerts": value}
    before = stored(runtime)

    response = post(client, json.dumps(sent))

    assert response.status_code == 400
    assert [(e["type"], e["loc"]) for e in response.get_json()["detail"]] == [(kind, ["truncatedAlerts"])]
    assert stored(runtime) == before


def test_truncated_alerts_in_range_is_accepted_and_counted(client: FlaskClient, runtime: Runtime) -> None:
    sent = payload(alert("APIQuotaExhaustion")) | {"truncatedAlerts": 10**9}

    response = post(client, json.dumps(sent))

    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    assert runtime.redis.get(runtime.keys.counter("alerts_truncated")) == b"1000000000"


# --- log injection ----------------------------------------------------------------------------

FORGED = "X\n2026-11-28 10:00:00 ERROR responder.auth: admin logged in"


def test_a_newline_in_a_group_key_does_not_forge_a_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    sent = payload(alert("APIQuotaExhaustion"), group_key=FORGED) | {"truncatedAlerts": 3}

    assert post(client, json.dumps(sent)).status_code == 200

    [line] = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert "\n" not in line
    assert line == (
        "Alertmanager truncated 3 alerts of group 'X\\n2026-11-28 10:00:00 ERROR responder.auth: "
        "admin logged in': raise max_alerts in its webhook_config"
    )


def test_a_newline_in_an_unmatched_alert_name_does_not_forge_a_log_line(
    client: FlaskClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="responder")

    assert post(client, body(alert(FORGED))).status_code == 200
    drain(runtime)

    [line] = [r.getMessage() for r in caplog.records if "matched no rule" in r.getMessage()]
    assert line == ("alert matched no rule: 'X\\n2026-11-28 10:00:00 ERROR responder.auth: admin logged in'")


# --- caps on each alert -----------------------------------------------------------------------


def with_labels(**labels: str) -> dict[str, Any]:
    return alert("APIQuotaExhaustion", **labels)


OVER_DEFAULT_CAPS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # case: (payload, the 413's detail)
    "9 MiB label": (
        payload(with_labels(blob="x" * (9 * 1024 * 1024))),
        {
            "cap": "RESPONDER_MAX_LABEL_BYTES",
            "limit": 4096,
            "size": 9 * 1024 * 1024,
            "where": "alerts[0].labels",
        },
    ),
    "long label name": (
        payload(alert("A"), with_labels(**{"n" * 5000: "v"})),
        {"cap": "RESPONDER_MAX_LABEL_BYTES", "limit": 4096, "size": 5000, "where": "alerts[1].labels"},
    ),
    "200 labels": (
        payload(with_labels(**{f"l{i}": "v" for i in range(198)})),
        {"cap": "RESPONDER_MAX_LABELS", "limit": 128, "size": 200, "where": "alerts[0].labels"},
    ),
    "1 MiB annotation": (
        payload({**alert("A"), "annotations": {"description": "é" * (512 * 1024)}}),
        {
            "cap": "RESPONDER_MAX_ANNOTATION_BYTES",
            "limit": 16384,
            "size": 1024 * 1024,
            "where": "alerts[0].annotations",
        },
    ),
    "many mid-sized annotations": (
        payload({**alert("A"), "annotations": {f"a{i:02d}": "x" * 10_000 for i in range(10)}}),
        {"cap": "RESPONDER_MAX_ALERT_BYTES", "limit": 65536, "size": None, "where": "alerts[0]"},
    ),
    "huge group key": (
        payload(alert("A"), group_key="{}:" + "g" * 100_000),
        {"cap": "RESPONDER_MAX_GROUP_KEY_BYTES", "limit": 4096, "size": 100_003, "where": "groupKey"},
    ),
}


@pytest.mark.parametrize("case", list(OVER_DEFAULT_CAPS))
def test_an_alert_over_a_cap_is_413_naming_the_cap_and_nothing_is_stored(
    client: FlaskClient, runtime: Runtime, case: str
) -> None:
    sent, expected = OVER_DEFAULT_CAPS[case]
    before = stored(runtime)

    response = post(client, json.dumps(sent, ensure_ascii=False).encode())

    assert response.status_code == 413
    document = response.get_json()
    detail = document["detail"]
    if expected["size"] is None:
        expected = expected | {"size": detail["size"]}
        assert detail["size"] > 100_000
    assert detail == expected
    assert document["error"].startswith(f"over a cap on alerts: {expected['where']}: {expected['size']} ")
    assert document["error"].endswith(
        f"over the cap of {expected['limit']} ({expected['cap']}); nothing was accepted"
    )
    assert stored(runtime) == before


def test_the_413_for_a_label_says_which_cap_in_plain_words(client: FlaskClient) -> None:
    response = post(client, body(with_labels(blob="x" * 5000)))

    assert response.get_json()["error"] == (
        "over a cap on alerts: alerts[0].labels: 5000 bytes in one name or value, over the cap of 4096 "
        "(RESPONDER_MAX_LABEL_BYTES); nothing was accepted"
    )


def test_alerts_at_the_caps_are_accepted(client: FlaskClient) -> None:
    at_caps = with_labels(blob="x" * 4096, **{f"l{i}": "v" for i in range(125)})

    response = post(client, body(at_caps))

    assert response.get_json() == {"accepted": 1, "duplicates": 0}


def test_caps_are_set_by_environment_variables(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONDER_MAX_LABEL_BYTES", "100")
    monkeypatch.setenv("RESPONDER_MAX_LABELS", "4")
    client = create_app(runtime, webhook_token=TOKEN).test_client()

    too_long = post(client, body(with_labels(blob="x" * 101)))
    too_many = post(client, body(with_labels(a="1", b="2", c="3")))
    fine = post(client, body(with_labels(blob="x" * 100)))

    assert (too_long.status_code, too_long.get_json()["detail"]["cap"]) == (413, "RESPONDER_MAX_LABEL_BYTES")
    assert (too_many.status_code, too_many.get_json()["detail"]) == (
        413,
        {"cap": "RESPONDER_MAX_LABELS", "limit": 4, "size": 5, "where": "alerts[0].labels"},
    )
    assert fine.get_json() == {"accepted": 1, "duplicates": 0}


def test_a_cap_that_is_not_a_number_stops_the_web_app_from_starting(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESPONDER_MAX_ALERT_BYTES", "64k")

    with pytest.raises(ConfigError) as caught:
        create_app(runtime, webhook_token=TOKEN)

    assert (
        str(caught.value) == "environment: RESPONDER_MAX_ALERT_BYTES: must be a whole number ≥ 1 (got '64k')"
    )
