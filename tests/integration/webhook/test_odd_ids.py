"""Ids that are not ids (docs/operations.md): a 404 from the API, "unknown incident" in Slack, never a 500
or a failed job, and never another Redis key read through the id (``<id>:escalation``)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry

from responder.runtime import Runtime
from responder.worker import worker_queues
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import Paging
from tests.fakes.slack import click_body, sign
from tests.helpers import advance, events, incident_of, open_incident

INCIDENT_RULE = "no such incident: incident ids are 12 lowercase hex digits"


@pytest.fixture
def paged(paging: Paging, runtime: Runtime, paged_client: FlaskClient) -> str:
    incident_id, _ = open_incident(paged_client, runtime)
    advance(runtime, 0)
    return incident_id


@pytest.mark.parametrize(
    "suffix", [":timeline", ":escalation", ":alerts", ":deliveries", ":silence", "0", "%0A"]
)
def test_an_incident_id_with_anything_after_it_is_404_not_another_key(
    paged_client: FlaskClient, paged: str, suffix: str
) -> None:
    for response in (
        paged_client.get(f"/api/incidents/{paged}{suffix}"),
        paged_client.post(f"/api/incidents/{paged}{suffix}/ack", json={"by": "mallory"}),
        paged_client.post(f"/api/incidents/{paged}{suffix}/resolve", json={"by": "mallory"}),
    ):
        assert (response.status_code, response.get_json()) == (404, {"error": INCIDENT_RULE})


def test_the_incident_itself_is_untouched_by_odd_ids(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    paged_client.post(f"/api/incidents/{paged}:timeline/ack", json={"by": "mallory"})
    advance(runtime, 0)

    assert incident_of(runtime, paged)["status"] == "triggered"
    assert paged_client.get(f"/api/incidents/{paged}").status_code == 200


@pytest.mark.parametrize("incident_id", ["ABCDEF012345", "0123456789a", "0123456789abc", "x" * 5000, "-1"])
def test_ids_of_the_wrong_shape_are_404(paged_client: FlaskClient, incident_id: str) -> None:
    response = paged_client.get(f"/api/incidents/{incident_id}")
    assert (response.status_code, response.get_json()) == (404, {"error": INCIDENT_RULE})


@pytest.mark.parametrize("run_id", ["somerun", "0123456789ABCDEF", "0123456789abcdef:approving", "0" * 17])
def test_run_ids_of_the_wrong_shape_are_404(paged_client: FlaskClient, run_id: str) -> None:
    response = paged_client.post(f"/api/runs/{run_id}/approve", json={"by": "carol"})
    assert (response.status_code, response.get_json()) == (
        404,
        {"error": "no such playbook run: run ids are 16 lowercase hex digits"},
    )


def failed_jobs(runtime: Runtime) -> list[Any]:
    """Every failed job, on any lane."""
    queues = worker_queues(runtime.redis, runtime.keys)
    return [job_id for queue in queues for job_id in FailedJobRegistry(queue=queue).get_job_ids()]


@pytest.mark.parametrize(
    ("action_id", "value", "answer"),
    [
        ("ack", "{paged}:timeline", "unknown incident"),
        ("resolve", "{paged}:escalation", "unknown incident"),
        ("silence_1h", "../../etc", "unknown incident"),
        ("ack", "0123456789ab", "unknown incident"),  # the right shape, but no such incident
        ("approve", "0123456789abcdef:0", "unknown playbook run"),
        ("approve", "{paged}:0", "unknown playbook run"),
    ],
)
def test_a_click_on_an_odd_value_is_answered_unknown_in_slack_and_fails_no_job(
    paging: Paging,
    runtime: Runtime,
    paged_client: FlaskClient,
    paged: str,
    action_id: str,
    value: str,
    answer: str,
) -> None:
    data = click_body(action_id, value.format(paged=paged), response_url=paging.slack.response_url())
    response = paged_client.post("/slack/interactions", data=data, headers=sign(data, SECRETS.signing_secret))
    advance(runtime, 0)

    assert response.status_code == 200
    [told] = paging.slack.responses()
    assert told.body["response_type"] == "ephemeral"
    assert told.body["text"].startswith(f"{answer}: ")
    assert failed_jobs(runtime) == []
    assert incident_of(runtime, paged)["status"] == "triggered"
    assert events(runtime, paged, "access.refused") == []  # nothing to refuse: nothing was named
