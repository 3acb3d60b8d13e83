"""Who may click what in Slack (``access.slack``): real web app, real worker, the fake Slack.

A refused click changes nothing, is answered in Slack with a message only the clicker sees
(posted to the click's ``response_url``), and leaves an ``access.refused`` entry in the
timeline; an allowed one records the Slack user id beside the name. Group membership comes
from ``usergroups.users.list`` and is cached for a minute.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from responder.runtime import Runtime
from responder.store import flags
from tests.fakes.notify_env import SECRETS
from tests.fakes.paging import ALICE, TEAM_ID, Paging, use_access
from tests.fakes.slack import click_body, sign
from tests.helpers import advance, events, incident_of, open_incident

BOB = "U0BOB"


def access(runtime: Runtime, yaml: str) -> None:
    use_access(runtime.config_dir, yaml)
    runtime.reload()


def click(
    client: FlaskClient, paging: Paging, action_id: str, value: str, **who: Any
) -> tuple[int, dict[str, Any]]:
    data = click_body(action_id, value, response_url=paging.slack.response_url(), **who)
    response = client.post("/slack/interactions", data=data, headers=sign(data, SECRETS.signing_secret))
    return response.status_code, response.get_json()


def answers(paging: Paging) -> list[dict[str, Any]]:
    """What the clicker was told, as Slack received it at the response_url."""
    out = []
    for request in paging.slack.responses():
        assert (request.method, request.path) == ("POST", "/actions/T0123ABCD/1/hooktoken")
        assert request.content_type.startswith("application/json")
        out.append(request.body)
    return out


@pytest.fixture
def paged(paging: Paging, runtime: Runtime, paged_client: FlaskClient) -> str:
    incident_id, _ = open_incident(paged_client, runtime)
    advance(runtime, 0)
    return incident_id


def test_a_user_not_allowed_to_ack_is_refused_told_so_in_slack_and_recorded(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    status, _ = click(paged_client, paging, "ack", paged, user_id=BOB, user="bob")
    advance(runtime, 0)

    assert status == 200  # Slack is answered at once; the refusal comes from the worker
    assert incident_of(runtime, paged)["status"] == "triggered"
    assert paging.slack.calls("chat.update") == []  # the card does not say acknowledged
    [refused] = events(runtime, paged, "access.refused")
    assert (
        refused["message"] == "Slack user bob (U0BOB) may not acknowledge: U0BOB is not in access.slack.ack"
    )
    assert refused["details"] == {
        "action": "ack",
        "slack_user_id": BOB,
        "slack_user_name": "bob",
        "slack_team_id": TEAM_ID,
        "reason": "U0BOB is not in access.slack.ack",
    }
    assert answers(paging) == [
        {
            "text": "You may not acknowledge this from Slack: U0BOB is not in access.slack.ack. The "
            "responder's config lists who may (`access.slack` in responder.yaml); the on-call lead can "
            "also act with `responder` or the API.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]


@pytest.mark.parametrize("action_id", ["resolve", "silence_1h"])
def test_resolve_and_silence_need_the_same_permission_as_ack(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str, action_id: str
) -> None:
    click(paged_client, paging, action_id, paged, user_id=BOB, user="bob")
    advance(runtime, 0)

    assert incident_of(runtime, paged)["status"] == "triggered"
    assert events(runtime, paged, "silence.created") == []
    [refused] = events(runtime, paged, "access.refused")
    assert refused["details"]["action"] == action_id


def test_an_allowed_ack_records_the_slack_user_id_beside_the_name(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    click(paged_client, paging, "ack", paged)
    advance(runtime, 0)

    assert incident_of(runtime, paged)["acknowledged_by"] == "alice.oncall"
    [acked] = events(runtime, paged, "incident.acknowledged")
    assert acked["details"] == {
        "by": "alice.oncall",
        "slack_user_id": ALICE,
        "slack_user_name": "alice.oncall",
    }
    assert answers(paging) == []  # nothing to say: the card shows it


def test_a_member_of_a_listed_user_group_may_click_read_through_usergroups_users_list(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    access(runtime, f"access: {{slack: {{team_id: {TEAM_ID}, ack: [S0ONCALL]}}}}\n")
    paging.slack.usergroups["S0ONCALL"] = [BOB, "U0CAROL"]

    click(paged_client, paging, "ack", paged, user_id=BOB, user="bob")
    click(paged_client, paging, "ack", paged, user_id="U0DAVE", user="dave")
    advance(runtime, 0)

    assert incident_of(runtime, paged)["acknowledged_by"] == "bob"
    # slack-sdk's WebClient posts every method's arguments as a form, as Slack accepts.
    [asked] = paging.slack.calls("usergroups.users.list")  # once: dave's click used the cached list
    assert (asked.method, asked.path) == ("POST", "/api/usergroups.users.list")
    assert asked.content_type == "application/x-www-form-urlencoded"
    assert asked.body == {"usergroup": "S0ONCALL"}
    assert asked.authorization == f"Bearer {SECRETS.slack_token}"
    cache = runtime.keys.slack_usergroup("S0ONCALL")
    assert 0 < runtime.redis.ttl(cache) <= 60
    [refused] = events(runtime, paged, "access.refused")
    assert refused["details"]["slack_user_id"] == "U0DAVE"


def test_a_group_slack_will_not_list_refuses_and_says_why(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    access(runtime, f"access: {{slack: {{team_id: {TEAM_ID}, ack: [S0GONE]}}}}\n")

    click(paged_client, paging, "ack", paged, user_id=BOB, user="bob")
    advance(runtime, 0)

    assert incident_of(runtime, paged)["status"] == "triggered"
    [refused] = events(runtime, paged, "access.refused")
    assert refused["details"]["reason"] == (
        "U0BOB is not in access.slack.ack (and membership could not be read: "
        "usergroups.users.list for S0GONE failed: no_such_subteam)"
    )
    assert not runtime.redis.exists(runtime.keys.slack_usergroup("S0GONE"))  # asked again next time


def test_star_lets_anyone_in_the_workspace_click(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    access(runtime, f'access: {{slack: {{team_id: {TEAM_ID}, ack: ["*"]}}}}\n')

    click(paged_client, paging, "resolve", paged, user_id="U0ANYONE", user="anyone")
    advance(runtime, 0)

    incident = incident_of(runtime, paged)
    assert (incident["status"], incident["resolved_by"]) == ("resolved", "anyone")
    assert paging.slack.calls("usergroups.users.list") == []


@pytest.mark.parametrize(
    ("who", "came_from"),
    [
        ({"team_id": "T0OTHER"}, "T0OTHER"),
        ({"user_team_id": "T0GUEST"}, "T0123ABCD, T0GUEST"),  # a Slack Connect guest in our channel
        ({"team_id": None}, "no workspace"),
    ],
    ids=["other-workspace", "connect-guest", "no-team"],
)
def test_a_click_from_another_workspace_is_refused_even_for_star(
    paging: Paging,
    runtime: Runtime,
    paged_client: FlaskClient,
    paged: str,
    who: dict[str, Any],
    came_from: str,
) -> None:
    access(runtime, f'access: {{slack: {{team_id: {TEAM_ID}, ack: ["*"]}}}}\n')

    click(paged_client, paging, "ack", paged, **who)
    advance(runtime, 0)

    assert incident_of(runtime, paged)["status"] == "triggered"
    [refused] = events(runtime, paged, "access.refused")
    assert (
        refused["details"]["reason"]
        == f"the click came from {came_from}, not from workspace T0123ABCD (team_id)"
    )
    [answer] = answers(paging)
    assert answer["response_type"] == "ephemeral"


def test_without_an_access_section_nobody_may_click(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    access(runtime, "")

    click(paged_client, paging, "ack", paged)
    advance(runtime, 0)

    assert incident_of(runtime, paged)["status"] == "triggered"
    [refused] = events(runtime, paged, "access.refused")
    assert refused["details"]["reason"] == "nobody may acknowledge from Slack: access.slack.ack is empty"


def test_approving_needs_the_approve_list_not_the_ack_list(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    access(runtime, f"access: {{slack: {{team_id: {TEAM_ID}, ack: [{ALICE}]}}}}\n")
    incident_id, _ = open_incident(paged_client, runtime, "NeedsApproval")
    advance(runtime, 1)
    [waiting] = events(runtime, incident_id, "step.awaiting_approval")

    click(paged_client, paging, "approve", f"{waiting['details']['run']}:0")
    advance(runtime, 0)

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3  # the step did not run
    assert events(runtime, incident_id, "step.approved") == []
    [refused] = events(runtime, incident_id, "access.refused")
    assert refused["message"] == (
        "Slack user alice.oncall (U0ALICE) may not approve: nobody may approve from Slack: "
        "access.slack.approve is empty"
    )


def test_an_allowed_approval_records_the_slack_user_id(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(paged_client, runtime, "NeedsApproval")
    advance(runtime, 1)
    [waiting] = events(runtime, incident_id, "step.awaiting_approval")

    click(paged_client, paging, "approve", f"{waiting['details']['run']}:0")
    advance(runtime, 0)

    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 7
    [approved] = events(runtime, incident_id, "step.approved")
    assert approved["details"]["slack_user_id"] == ALICE
    assert approved["details"]["by"] == "alice.oncall"


def test_an_answer_goes_only_to_slack_never_to_another_host_the_payload_names(
    paging: Paging, runtime: Runtime, paged_client: FlaskClient, paged: str
) -> None:
    elsewhere = HTTPServer(host="127.0.0.1", port=0)
    elsewhere.expect_request("/hook").respond_with_data("ok")
    elsewhere.start()
    try:
        data = click_body("ack", paged, user_id=BOB, user="bob", response_url=elsewhere.url_for("/hook"))
        paged_client.post("/slack/interactions", data=data, headers=sign(data, SECRETS.signing_secret))
        advance(runtime, 0)
    finally:
        elsewhere.stop()

    assert elsewhere.log == []
    assert paging.slack.responses() == []
    assert len(events(runtime, paged, "access.refused")) == 1  # refused and recorded all the same
