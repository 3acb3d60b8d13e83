"""REDIS_WAIT_REPLICAS: a 200 only once the replicas hold the accepted alerts; 503 when they lag."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from responder import runtime as runtime_mod
from responder.store import connection
from responder.store.keys import Keys
from responder.webhook.app import create_app
from tests.helpers import alert, body
from tests.redis_servers import Replicated


@pytest.fixture
def client_waiting_for(
    replicated: Replicated, ha_config: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[int], FlaskClient]:
    """A web app whose webhook waits for that many replicas (REDIS_WAIT_REPLICAS)."""

    def make(replicas: int) -> FlaskClient:
        monkeypatch.setenv("REDIS_WAIT_REPLICAS", str(replicas))
        redis = connection.connect(replicated.url, connection.WEB)
        return create_app(runtime_mod.build(ha_config, redis=redis, keys=Keys("wait"))).test_client()

    return make


def test_an_accepted_alert_is_on_the_replica_when_the_webhook_answers_200(
    replicated: Replicated, client_waiting_for: Callable[[int], FlaskClient]
) -> None:
    client = client_waiting_for(1)

    answer = client.post("/webhook/alertmanager", data=body(alert("HADrill", fingerprint="a", instance="a")))

    assert answer.status_code == 200, answer.get_data()
    assert replicated.replica.client().zcard(Keys("wait").pending_batches) == 1


def test_a_lagging_replica_gets_a_503_and_alertmanagers_retry_is_accepted_once_it_caught_up(
    replicated: Replicated, client_waiting_for: Callable[[int], FlaskClient]
) -> None:
    client = client_waiting_for(1)
    payload = body(alert("HADrill", fingerprint="b", instance="b"))

    replicated.replica.pause()  # SIGSTOP: connected, but it acknowledges nothing
    try:
        lagging = client.post("/webhook/alertmanager", data=payload)
    finally:
        replicated.replica.resume()
    retried = client.post("/webhook/alertmanager", data=payload)

    assert lagging.status_code == 503
    assert json.loads(lagging.get_data()) == {
        "error": "accepted by the Redis primary, but 0 of the 1 replicas required by REDIS_WAIT_REPLICAS "
        "confirmed it within 500 ms; retry later",
        "detail": {"replicas": 1, "confirmed": 0},
    }
    # The primary had it: the retry is a duplicate, and now the replica confirms it.
    assert retried.status_code == 200
    assert json.loads(retried.get_data()) == {"accepted": 0, "duplicates": 1}
    assert replicated.replica.client().zcard(Keys("wait").pending_batches) == 1


def test_more_replicas_required_than_there_are_is_always_a_503(
    client_waiting_for: Callable[[int], FlaskClient],
) -> None:
    client = client_waiting_for(2)

    answer = client.post("/webhook/alertmanager", data=body(alert("HADrill", fingerprint="c", instance="c")))

    assert answer.status_code == 503
    assert json.loads(answer.get_data())["detail"] == {"replicas": 2, "confirmed": 1}
