"""JSON bodies of the operator API that do not parse are a 4xx, never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.webhook.app import create_app

AUTH = {"Authorization": "Bearer api-t0ken", "Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime, webhook_token="w", api_token="api-t0ken").test_client()


@pytest.mark.parametrize(
    "body", [DEEP, b'{"by": ' + b"9" * 5000 + b"}"], ids=["deeply-nested", "huge-number"]
)
def test_an_ack_whose_body_does_not_parse_is_400(client: FlaskClient, body: bytes) -> None:
    response = client.post("/api/incidents/0123456789ab/ack", data=body, headers=AUTH)

    assert response.status_code == 400
    assert (
        response.get_json()["error"] == 'send {"by": "your name"}: acknowledgements say who took the incident'
    )


def test_an_approval_whose_body_does_not_parse_is_400(client: FlaskClient) -> None:
    response = client.post("/api/runs/0123456789abcdef/approve", data=DEEP, headers=AUTH)

    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [DEEP, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"9" * 5000],
    ids=["nested-arrays", "nested-objects", "huge-number"],
)
def test_a_flag_value_that_does_not_parse_is_400_and_the_flag_is_unchanged(
    client: FlaskClient, runtime: Runtime, body: bytes
) -> None:
    response = client.put("/api/flags/retryAttempts", data=body, headers=AUTH)

    assert (response.status_code, response.get_json()) == (
        400,
        {"error": "the body must be the flag's new value as JSON"},
    )
    assert client.get("/api/flags", headers=AUTH).get_json()["retryAttempts"] == 3
