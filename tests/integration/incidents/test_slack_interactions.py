"""Slack button clicks, signed like Slack signs them, through ``POST /slack/interactions`` and real workers.

The buttons clicked are the ones on the card the fake Slack received, so a click carries
exactly the value the responder put there. The clicker, alice (U0ALICE), is allowed to click
by the paging config's ``access.slack`` (who may not is tested in test_slack_access.py).
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags
from tests.alertmanager import RealAlertmanager
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.fakes.slack import click_body, sign
from tests.helpers import advance, events, incident_of, open_incident

SECRET = SECRETS.signing_secret
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def button(paging: Paging, action_id: str) -> str:
    """The value of the first ``action_id`` button on any message in #embedding-dev (cards and threads)."""
    for message in paging.slack.messages.values():
        for block in message.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") == action_id:
                    return str(element["value"])
    raise AssertionError(f"no {action_id} button was posted to Slack")


def click(client: FlaskClient, action_id: str, value: str) -> Any:
    data = click_body(action_id, value)
    return client.post("/slack/interactions", data=data, headers=sign(data, SECRET))


@pytest.fixture
def paged(paging: Paging, runtime: Runtime, paged_client: FlaskClient) -> str:
    """An incident whose level 1 has been paged (its card is in Slack); returns its id."""
    incident_id, _ = open_incident(paged_client, runtime)
    advance(runtime, 0)
    return incident_id


def test_signed_ack_click_acknowledges_as_that_user_edits_slack_and_acks_pagerduty(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    value = button(paging, "ack")
    assert value == paged

    started = time.monotonic()
    response = click(paged_client, "ack", value)
    assert response.status_code == 200
    assert time.monotonic() - started < 3  # Slack's deadline
    advance(runtime, 0)

    incident = incident_of(runtime, paged)
    assert incident["status"] == "acknowledged"
    assert incident["acknowledged_by"] == "alice.oncall"
    [card] = paging.slack.cards("#embedding-dev")
    assert card.edits >= 1
    assert "alice.oncall" in json.dumps(card.blocks) + card.text
    assert paging.pagerduty.alerts[(SECRETS.pd_key_dev, paged)] == "acknowledged"


def test_double_click_changes_nothing_more(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    value = button(paging, "ack")
    assert click(paged_client, "ack", value).status_code == 200
    assert click(paged_client, "ack", value).status_code == 200
    advance(runtime, 5)

    assert len(events(runtime, paged, "incident.acknowledged")) == 1
    assert len(paging.pd_events(SECRETS.pd_key_dev, "acknowledge")) == 1
    assert len(paging.slack.calls("chat.update")) == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda data: sign(data, "not-the-signing-secret"), "signature does not match"),
        (lambda data: sign(data, SECRET, at=int(time.time()) - 6 * 60), "more than 5 minutes"),
        (lambda data: {"Content-Type": "application/x-www-form-urlencoded"}, "missing X-Slack-Signature"),
    ],
    ids=["wrong-secret", "stale", "unsigned"],
)
def test_bad_and_stale_signatures_are_refused_and_change_nothing(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str, headers: Any, why: str
) -> None:
    data = click_body("ack", paged)
    response = paged_client.post("/slack/interactions", data=data, headers=headers(data))
    assert response.status_code == 401
    assert why in response.get_json()["error"]
    advance(runtime, 1)

    assert incident_of(runtime, paged)["status"] == "triggered"
    assert paging.pd_events(SECRETS.pd_key_dev, "acknowledge") == []
    assert paging.slack.calls("chat.update") == []


def test_malformed_click_is_a_400_and_missing_secret_a_503(
    paging: Paging, paged_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = urlencode({"payload": "{not json"}).encode()
    response = paged_client.post("/slack/interactions", data=data, headers=sign(data, SECRET))
    assert response.status_code == 400
    assert response.get_json()["error"] == "payload is not JSON"

    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    data = click_body("ack", "abc")
    response = paged_client.post("/slack/interactions", data=data, headers=sign(data, SECRET))
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET is not set" in response.get_json()["error"]


def test_resolve_click_resolves_by_that_user(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    assert click(paged_client, "resolve", button(paging, "resolve")).status_code == 200
    advance(runtime, 0)

    incident = incident_of(runtime, paged)
    assert (incident["status"], incident["resolved_by"]) == ("resolved", "alice.oncall")


def test_silence_click_creates_one_silence_in_alertmanager_and_records_it(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str, alertmanager: RealAlertmanager
) -> None:
    value = button(paging, "silence_1h")
    assert click(paged_client, "silence_1h", value).status_code == 200
    assert click(paged_client, "silence_1h", value).status_code == 200  # a double click
    advance(runtime, 0)

    silences = requests.get(alertmanager.url + "/api/v2/silences", timeout=5).json()
    [silence] = [s for s in silences if s["status"]["state"] == "active"]
    assert silence["createdBy"] == "alert-responder"
    assert "alice.oncall" in silence["comment"]
    matchers = {m["name"]: (m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]}
    assert matchers["alertname"] == ("Paged", True, False)
    assert matchers["severity"] == ("critical", True, False)
    length = time.mktime(time.strptime(silence["endsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(
        time.strptime(silence["startsAt"][:19], "%Y-%m-%dT%H:%M:%S")
    )
    assert 3590 <= length <= 3610
    [recorded] = events(runtime, paged, "silence.created")
    assert silence["id"] in recorded["message"]
    assert "alice.oncall" in recorded["message"]
    # Silencing is not acknowledging: escalation goes on.
    assert incident_of(runtime, paged)["status"] == "triggered"


def test_approve_click_runs_the_waiting_step(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "NeedsApproval")
    advance(runtime, 0)
    advance(runtime, 1)
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3  # not yet

    value = button(paging, "approve")
    assert click(paged_client, "approve", value).status_code == 200
    assert click(paged_client, "approve", value).status_code == 200  # a double click
    advance(runtime, 0)

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 7
    [approved] = events(runtime, incident_id, "step.approved")
    assert "approved by alice.oncall" in approved["message"]
    assert len(events(runtime, incident_id, "step.ok")) == 1
