"""What senders of bad requests get back: the documented status, a JSON error, never a 500.

Alertmanager retries on 5xx and gives up on 4xx, so a client mistake answered with a 500
would be retried forever; and the operator API must refuse anyone without the token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain, payload

TOKEN = "s3cret-token"
API_TOKEN = "api-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime, webhook_token=TOKEN, api_token=API_TOKEN).test_client()


def post(client: FlaskClient, data: bytes | str, headers: dict[str, str] | None = None) -> TestResponse:
    return client.post(
        "/webhook/alertmanager",
        data=data,
        headers=AUTH if headers is None else headers,
        content_type="application/json",
    )


WEBHOOK_TOKEN_MISSING = "missing or wrong token: send Authorization: Bearer $RESPONDER_WEBHOOK_TOKEN"


def error_of(response: TestResponse) -> dict[str, Any]:
    """The JSON error body; fails when the answer is not JSON."""
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert isinstance(document, dict)
    assert isinstance(document["error"], str)
    return document


def detail_of(response: TestResponse) -> list[tuple[str, list[Any]]]:
    return [(e["type"], e["loc"]) for e in error_of(response)["detail"]]


# --- malformed and invalid payloads ----------------------------------------------------------


def test_malformed_json_is_400_with_json_error(client: FlaskClient) -> None:
    response = post(client, b'{"version": "4", "alerts": [')

    assert response.status_code == 400
    document = error_of(response)
    assert document["error"] == "malformed JSON: expected an Alertmanager webhook payload, version 4"
    assert [e["type"] for e in document["detail"]] == ["json_invalid"]


def test_wrong_types_are_400_naming_each_field(client: FlaskClient) -> None:
    bad = payload(alert("APIQuotaExhaustion"))
    bad["truncatedAlerts"] = "many"
    bad["alerts"][0]["status"] = 1
    bad["alerts"][0]["labels"] = ["alertname"]

    response = post(client, json.dumps(bad))

    assert response.status_code == 400
    assert (
        error_of(response)["error"] == "invalid payload: expected an Alertmanager webhook payload, version 4"
    )
    assert detail_of(response) == [
        ("int_parsing", ["truncatedAlerts"]),
        ("literal_error", ["alerts", 0, "status"]),
        ("dict_type", ["alerts", 0, "labels"]),
    ]


def test_missing_alerts_is_400(client: FlaskClient) -> None:
    missing = payload(alert("APIQuotaExhaustion"))
    del missing["alerts"]

    response = post(client, json.dumps(missing))

    assert response.status_code == 400
    assert detail_of(response) == [("missing", ["alerts"])]


def test_unknown_payload_version_is_400(client: FlaskClient) -> None:
    v3 = payload(alert("APIQuotaExhaustion"))
    v3["version"] = "3"

    response = post(client, json.dumps(v3))

    assert response.status_code == 400
    [entry] = error_of(response)["detail"]
    assert (entry["loc"], entry["msg"]) == (["version"], "Input should be '4'")


def test_alert_without_fingerprint_is_400_and_nothing_is_accepted(client: FlaskClient) -> None:
    # Without a fingerprint an alert cannot be deduplicated; accepting the others would make the
    # sender's retry of the whole group duplicate them.
    alerts = [alert("APIQuotaExhaustion", fingerprint="fp-ok"), alert("Templated", fingerprint="fp-x")]
    del alerts[1]["fingerprint"]

    response = post(client, json.dumps(payload(*alerts)))

    assert response.status_code == 400
    assert detail_of(response) == [("missing", ["alerts", 1, "fingerprint"])]
    assert post(client, body(alert("APIQuotaExhaustion", fingerprint="fp-ok"))).get_json() == {
        "accepted": 1,
        "duplicates": 0,
    }


def test_non_utf8_body_is_400(client: FlaskClient) -> None:
    latin1 = json.dumps(payload(alert("APIQuotaExhaustion", team="\u00e9quipe")), ensure_ascii=False).encode(
        "latin-1"
    )

    response = post(client, latin1)

    assert response.status_code == 400
    assert error_of(response)["error"].startswith("the body is not UTF-8")


def test_utf16_body_is_400(client: FlaskClient) -> None:
    response = post(client, body(alert("APIQuotaExhaustion")).decode().encode("utf-16"))

    assert response.status_code == 400
    assert (
        error_of(response)["error"] == "the body is not UTF-8 (invalid byte at offset 0): send JSON in UTF-8"
    )


def test_oversized_body_is_413_with_json_error(runtime: Runtime) -> None:
    client = create_app(runtime, webhook_token=TOKEN, max_body=1024).test_client()
    big = payload(alert("APIQuotaExhaustion"))
    big["commonAnnotations"] = {"description": "x" * 2000}

    response = post(client, json.dumps(big))

    assert response.status_code == 413
    assert error_of(response) == {"error": "request body over the limit of 1024 bytes"}


def test_body_under_the_limit_is_accepted(runtime: Runtime) -> None:
    client = create_app(runtime, webhook_token=TOKEN, max_body=1024).test_client()
    data = body(alert("APIQuotaExhaustion"))
    assert len(data) < 1024

    assert post(client, data).status_code == 200


def test_error_body_never_echoes_the_input(client: FlaskClient) -> None:
    marker = "ZQX-marker-7f3a9c"
    bad = payload(alert("APIQuotaExhaustion"))
    bad["alerts"][0]["startsAt"] = marker  # not a timestamp
    bad["alerts"][0]["status"] = marker  # not firing/resolved
    bad["alerts"][0]["labels"][marker] = 42  # label values are strings
    bad["alerts"][0]["annotations"] = {"summary": [marker]}
    bad["commonLabels"] = {marker: {marker: marker}}
    bad["version"] = marker

    response = post(client, json.dumps(bad))

    assert response.status_code == 400
    assert len(error_of(response)["detail"]) == 6
    assert marker not in response.get_data(as_text=True)


def test_malformed_json_error_never_echoes_the_input(client: FlaskClient) -> None:
    marker = "ZQX-marker-c0ffee"

    response = post(client, '{"version": "4", "groupKey": "' + marker + '", oops}')

    assert response.status_code == 400
    assert marker not in response.get_data(as_text=True)


ODD_BODIES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"  \n ",
    "list": b"[]",
    "null": b"null",
    "string": b'"x"',
    "number": b"4",
    "alerts as string": b'{"alerts": "x"}',
    "alerts as list of strings": json.dumps({**payload(alert("A")), "alerts": ["x"]}).encode(),
    "alerts of empty objects": json.dumps({**payload(alert("A")), "alerts": [{}]}).encode(),
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge integer": body(alert("A")).replace(b'"truncatedAlerts": 0', b'"truncatedAlerts": 1' + b"0" * 5000),
    "huge float": b'{"version": "4", "truncatedAlerts": 1e999999}',
    "NaN": b'{"version": NaN}',
    "lone surrogate": b'{"version": "4", "groupKey": "\\ud800"}',
    "NUL byte": b'{"version": "4\x00"}',
    "byte order mark": b"\xef\xbb\xbf" + body(alert("A")),
    "fingerprint too long": body(alert("A", fingerprint="f" * 10_000)),
    "timestamp not a timestamp": body(alert("A", starts_at="yesterday")),
    "null labels": json.dumps({**payload(alert("A")), "alerts": [{**alert("A"), "labels": None}]}).encode(),
    "duplicate keys": b'{"version": "4", "version": "3"}',
    "trailing garbage": body(alert("A")) + b"}}",
}


@pytest.mark.parametrize("name", list(ODD_BODIES))
def test_client_input_never_causes_a_500(client: FlaskClient, name: str) -> None:
    response = post(client, ODD_BODIES[name])

    assert response.status_code == 400, response.get_data(as_text=True)
    error_of(response)


# --- large payloads ---------------------------------------------------------------------------


def test_ten_thousand_alerts_in_one_payload_are_all_accepted_then_all_duplicates(client: FlaskClient) -> None:
    alerts = [alert("BulkAlert", fingerprint=f"bulk{i:06d}", instance=f"host-{i}") for i in range(10_000)]
    data = json.dumps(payload(*alerts)).encode()

    first = post(client, data)
    second = post(client, data)  # the same group from a second Alertmanager replica

    assert first.status_code == 200
    assert first.get_json() == {"accepted": 10_000, "duplicates": 0}
    assert second.get_json() == {"accepted": 0, "duplicates": 10_000}


def test_empty_alerts_list_is_accepted_as_nothing(client: FlaskClient) -> None:
    response = post(client, json.dumps(payload() | {"status": "resolved"}))

    assert response.status_code == 200
    assert response.get_json() == {"accepted": 0, "duplicates": 0}


# --- webhook authentication -------------------------------------------------------------------


def test_missing_token_is_401(client: FlaskClient) -> None:
    response = post(client, body(alert("APIQuotaExhaustion")), headers={})

    assert response.status_code == 401
    assert error_of(response) == {"error": WEBHOOK_TOKEN_MISSING}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        TOKEN,
        f"Token {TOKEN}",
        "Basic " + base64.b64encode(b"alertmanager:wrong").decode(),
        "Basic " + base64.b64encode(TOKEN.encode()).decode(),  # token as user name, no password
        "Basic not-base64!",
    ],
)
def test_wrong_token_is_401_and_nothing_is_accepted(client: FlaskClient, header: str) -> None:
    response = post(client, body(alert("APIQuotaExhaustion")), headers={"Authorization": header})

    assert response.status_code == 401
    assert error_of(response) == {"error": WEBHOOK_TOKEN_MISSING}
    # Nothing was recorded: the same alert with the right token is new.
    assert post(client, body(alert("APIQuotaExhaustion"))).get_json() == {"accepted": 1, "duplicates": 0}


def test_wrong_token_is_401_even_for_a_bad_body(client: FlaskClient) -> None:
    # Authentication comes first: an unauthenticated sender learns nothing about the schema.
    response = post(client, b"{not json", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert error_of(response) == {"error": WEBHOOK_TOKEN_MISSING}  # no parse error, no schema detail


def test_basic_auth_with_the_token_as_password_is_accepted(client: FlaskClient) -> None:
    credentials = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()

    response = post(
        client, body(alert("APIQuotaExhaustion")), headers={"Authorization": f"Basic {credentials}"}
    )

    assert response.status_code == 200
    assert response.get_json() == {"accepted": 1, "duplicates": 0}


# --- operator API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, AUTH], ids=["none", "wrong", "webhook"]
)
def test_api_without_the_api_token_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    for response in (
        client.get("/api/incidents", headers=headers),
        client.get("/api/flags", headers=headers),
        client.post("/api/automation/pause", headers=headers),
    ):
        assert response.status_code == 401
        assert error_of(response) == {
            "error": "missing or wrong token: send Authorization: Bearer $RESPONDER_API_TOKEN"
        }
    # The kill switch was not thrown by any of them.
    assert client.get("/api/automation", headers=API_AUTH).get_json() == {"automation": "running"}


def test_api_with_the_token_lists_incidents(client: FlaskClient) -> None:
    response = client.get("/api/incidents", headers=API_AUTH)

    assert response.status_code == 200
    assert response.get_json() == {"incidents": []}


def test_unknown_status_filter_is_400(client: FlaskClient) -> None:
    response = client.get("/api/incidents?status=bogus", headers=API_AUTH)

    assert response.status_code == 400
    assert error_of(response) == {"error": 'unknown status "bogus": use triggered, acknowledged or resolved'}


def test_non_numeric_limit_is_400(client: FlaskClient) -> None:
    response = client.get("/api/incidents?limit=ten", headers=API_AUTH)

    assert response.status_code == 400
    assert error_of(response) == {"error": "limit must be a whole number"}


def test_unknown_incident_is_404_json(client: FlaskClient) -> None:
    for response in (
        client.get("/api/incidents/0123456789ab", headers=API_AUTH),
        client.post("/api/incidents/0123456789ab/ack", json={"by": "alice"}, headers=API_AUTH),
        client.post("/api/incidents/0123456789ab/resolve", json={"by": "alice"}, headers=API_AUTH),
    ):
        assert response.status_code == 404
        assert error_of(response)["error"] == 'no incident "0123456789ab"'
    for response in (
        client.get("/api/incidents/does-not-exist", headers=API_AUTH),
        client.post("/api/incidents/does-not-exist/ack", json={"by": "alice"}, headers=API_AUTH),
    ):
        assert response.status_code == 404
        assert error_of(response)["error"] == "no such incident: incident ids are 12 lowercase hex digits"


@pytest.mark.parametrize(
    "ack_body",
    [None, {}, {"by": ""}, {"by": "   "}, {"by": 7}, {"name": "alice"}, ["alice"]],
    ids=["no body", "empty", "empty by", "blank by", "number by", "other key", "list"],
)
def test_ack_without_by_is_400_and_leaves_the_incident_unacknowledged(
    client: FlaskClient, runtime: Runtime, ack_body: Any
) -> None:
    post(client, body(alert("APIQuotaExhaustion")))
    drain(runtime)
    [incident] = client.get("/api/incidents", headers=API_AUTH).get_json()["incidents"]

    response = client.post(f"/api/incidents/{incident['id']}/ack", json=ack_body, headers=API_AUTH)

    assert response.status_code == 400
    assert error_of(response) == {
        "error": 'send {"by": "your name"}: acknowledgements say who took the incident'
    }
    shown = client.get(f"/api/incidents/{incident['id']}", headers=API_AUTH).get_json()
    assert shown["status"] == "triggered"
