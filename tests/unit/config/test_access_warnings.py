"""``responder check`` warns when ``access.slack`` leaves Slack's buttons to nobody, or to anybody."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from responder.cli import main

BASIC = Path(__file__).parents[2] / "testdata" / "config" / "basic"

APPROVAL_PLAYBOOK = """\
name: careful_restart
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: 5}
  - action: flags.set
    with: {flag: retryAttempts, value: 7}
    requires_approval: true
"""
SLACK_RULE = """\
- name: paged
  matchers: ['alertname = "Paged"']
  notify: [slack]
"""


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(BASIC, target)
    return target


def warnings(directory: Path, access: str = "") -> list[str]:
    if access:
        with (directory / "responder.yaml").open("a") as main_file:
            main_file.write(access)
    result = CliRunner().invoke(main, ["check", "--config", str(directory)])
    assert result.exit_code == 0, result.output
    return [line for line in result.stderr.splitlines() if "access.slack" in line]


def test_a_step_that_requires_approval_while_nobody_may_approve_from_slack_is_warned_about(
    directory: Path,
) -> None:
    (directory / "playbooks" / "careful_restart.yaml").write_text(APPROVAL_PLAYBOOK)

    assert warnings(directory) == [
        "warning: playbooks/careful_restart.yaml:7: steps[1].requires_approval: requires_approval, but nobody"
        " may approve from Slack (access.slack.approve in responder.yaml is empty): only `responder approve`,"
        " the API and the dashboard can"
    ]


def test_no_warning_once_someone_may_approve(directory: Path) -> None:
    (directory / "playbooks" / "careful_restart.yaml").write_text(APPROVAL_PLAYBOOK)

    assert warnings(directory, "access:\n  slack: {team_id: T0123ABCD, approve: [S0APPROVERS]}\n") == []


def test_rules_that_page_through_slack_while_nobody_may_click_are_warned_about(directory: Path) -> None:
    (directory / "rules" / "20-paged.yaml").write_text(SLACK_RULE)

    assert warnings(directory, "access:\n  slack: {team_id: T0123ABCD}\n") == [
        "warning: responder.yaml:23: access.slack.ack: rules page through Slack, but nobody may click"
        ' Acknowledge, Resolve or Silence 1h there: list user ids, user-group ids or "*" in access.slack.ack'
    ]


def test_star_without_a_team_id_is_warned_about(directory: Path) -> None:
    (directory / "rules" / "20-paged.yaml").write_text(SLACK_RULE)

    assert warnings(directory, 'access:\n  slack:\n    ack: ["*"]\n') == [
        'warning: responder.yaml:24: access.slack.ack: "*" in access.slack.ack without access.slack.team_id'
        " lets anyone who sees the buttons click them, guests from other workspaces included: set team_id"
    ]


def test_without_an_access_section_the_warning_points_at_no_line(directory: Path) -> None:
    (directory / "rules" / "20-paged.yaml").write_text(SLACK_RULE)

    assert warnings(directory) == [
        "warning: responder.yaml: access.slack.ack: rules page through Slack, but nobody may click"
        ' Acknowledge, Resolve or Silence 1h there: list user ids, user-group ids or "*" in access.slack.ack'
    ]
