"""The paging setup shared by the escalation and Slack tests: teams, policy, rules, and what people see.

``use_paging`` writes a three-level policy (the seed's escalation levels) and rules that page
into a test's config directory; :class:`Paging` reads the three fakes as the paged people
would see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.notify_env import SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer

PAGING_YAML = """
teams:
  dev-team: {slack: "#embedding-dev", email: [dev-team@example.com], pagerduty: "${PD_ROUTING_KEY_DEV}"}
  ops-team: {slack: "#ops", email: [ops@example.com], pagerduty: "${PD_ROUTING_KEY_OPS}"}
  management: {email: [eng-managers@example.com]}
escalation_policies:
  default:
    - [dev-team]
    - [dev-team, ops-team]
    - [dev-team, ops-team, management]
public_url: https://responder.example.com
"""
"""Replaces the test config's teams and policy; its flags and rate-limit profiles stay."""

TEAM_ID = "T0123ABCD"
ALICE = "U0ALICE"
"""The on-call engineer whose clicks the Slack tests send (alice.oncall)."""

ACCESS_YAML = f"""
access:
  slack:
    team_id: {TEAM_ID}
    ack: [{ALICE}]
    approve: [{ALICE}]
"""
"""Who may click in Slack: alice, in the test workspace (replace it with :func:`use_access`)."""

RULES_YAML = """
- name: paged
  matchers: ['alertname = "Paged"']
  severity: critical
  notify: [slack, email, pagerduty]
  escalation: {after: 2m}
  group_by: [alertname]
- name: paged_flaky
  matchers: ['alertname = "PagedFlaky"']
  playbooks: [always_fails]
  notify: [slack, email, pagerduty]
  escalation: {after: 1h}
- name: paged_repeat
  matchers: ['alertname = "PagedRepeat"']
  notify: [email]
  escalation: {after: 2m, repeat: true}
  group_by: [alertname]
- name: paged_quickly
  matchers: ['alertname = "PagedQuickly"']
  severity: critical
  notify: [slack, email, pagerduty]
  escalation: {after: 8s}
  group_by: [alertname]
- name: paged_approval
  matchers: ['alertname = "NeedsApproval"']
  playbooks: [approve_then_flag]
  notify: [slack, email, pagerduty]
  escalation: {after: 1h}
  group_by: [alertname]
"""

APPROVAL_PLAYBOOK = """
name: approve_then_flag
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: 7}
    requires_approval: true
"""


@dataclass
class Paging:
    """The three fakes, read as the people being paged would see them."""

    slack: FakeSlack
    pagerduty: FakePagerDuty
    smtp: SmtpServer

    def pd_events(self, routing_key: str, action: str = "trigger") -> list[Any]:
        return [
            r
            for r in list(self.pagerduty.requests)
            if r.body.get("routing_key") == routing_key and r.body.get("event_action") == action
        ]

    def emails_to(self, address: str) -> list[Any]:
        return [m for m in list(self.smtp.received) if address in m.rcpt_tos]

    def slack_posts(self, channel: str) -> list[Any]:
        """Top-level ``chat.postMessage`` requests to ``channel`` (cards, not thread replies)."""
        return [
            r
            for r in list(self.slack.requests)
            if r.api_method == "chat.postMessage"
            and r.body.get("channel") in (channel, self.slack.channel_ids.get(channel))
            and not r.body.get("thread_ts")
        ]

    def reached(self, team: str) -> dict[str, int]:
        """How many first pages each channel delivered to ``team``."""
        address = {"dev-team": "dev-team@example.com", "ops-team": "ops@example.com"}.get(
            team, "eng-managers@example.com"
        )
        slack = {"dev-team": "#embedding-dev", "ops-team": "#ops"}.get(team)
        key = {"dev-team": SECRETS.pd_key_dev, "ops-team": SECRETS.pd_key_ops}.get(team)
        return {
            "slack": len(self.slack_posts(slack)) if slack else 0,
            "email": len(self.emails_to(address)),
            "pagerduty": len(self.pd_events(key)) if key else 0,
        }


def _without_paging(text: str) -> str:
    """``responder.yaml`` minus its top-level paging sections (teams, policies, public_url, access)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line[:1] not in (" ", "\t", "") and line.strip():
            skipping = line.split(":", 1)[0] in ("teams", "escalation_policies", "public_url", "access")
        if not skipping:
            out.append(line)
    return "".join(out)


def use_paging(config_dir: Path) -> None:
    """Give ``config_dir`` the paging teams, policy, rules and the approval playbook."""
    main = config_dir / "responder.yaml"
    main.write_text(_without_paging(main.read_text()) + PAGING_YAML + ACCESS_YAML)
    (config_dir / "rules" / "20-paging.yaml").write_text(RULES_YAML)
    (config_dir / "playbooks" / "approve_then_flag.yaml").write_text(APPROVAL_PLAYBOOK)


def use_access(config_dir: Path, access_yaml: str) -> None:
    """Replace the ``access`` section of a paging config (reload the runtime afterwards)."""
    main = config_dir / "responder.yaml"
    main.write_text(_without_paging(main.read_text()) + PAGING_YAML + access_yaml)


def paging_env(slack: FakeSlack, pagerduty: FakePagerDuty, smtp: SmtpServer, ca_file: str) -> dict[str, str]:
    """The responder's environment with every channel pointed at its fake."""
    return {
        "SLACK_BOT_TOKEN": SECRETS.slack_token,
        "SLACK_SIGNING_SECRET": SECRETS.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "PAGERDUTY_API_URL": pagerduty.url,
        "PD_ROUTING_KEY_DEV": SECRETS.pd_key_dev,
        "PD_ROUTING_KEY_OPS": SECRETS.pd_key_ops,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "EMAIL_FROM": "Alert Responder <responder@example.com>",
        "SSL_CERT_FILE": ca_file,
    }
