"""The contract every notification channel keeps, run against each one (Alertmanager's notifiers share one).

A channel says what it lacks, delivers a page once and returns a ref, sends later updates
onto that ref instead of a second page, retries a transient failure, fails at once on a
permanent one with the server's answer, never shows a secret, and names where a team is
reached. Each channel talks to its real protocol peer on loopback (the fake Slack and
PagerDuty over HTTP(S), a real SMTP server); the per-channel files test what is particular
to one channel.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from responder.config.models import Team
from responder.errors import NotifyError
from responder.notify.base import Channel, Kind, Message
from responder.notify.email import EmailChannel
from responder.notify.pagerduty import PagerDutyChannel
from responder.notify.slack import SlackChannel
from responder.store.records import Incident
from tests.fakes.notify_env import FAST_RETRY, PUBLIC_URL, SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer


@dataclass
class Case:
    """One channel and the handles on its peer that the contract needs."""

    make: Callable[[dict[str, str]], Channel]
    team: Team
    required: str
    """An environment variable without which the channel cannot send."""
    secret: str
    """A credential of this channel that must never show."""
    pages: Callable[[], int]
    """How many first pages (new cards, new mails, new PagerDuty alerts) the peer holds."""
    requests: Callable[[], int]
    """How many requests (or SMTP DATA commands) reached the peer."""
    fail_once: Callable[[], None]
    """Make the next attempt fail in a way worth retrying."""
    fail_permanently: Callable[[], str]
    """Make the next attempt fail for good; returns a piece of the peer's answer the error must quote."""


@pytest.fixture(params=["slack", "email", "pagerduty"])
def case(
    request: pytest.FixtureRequest, slack: FakeSlack, smtp: SmtpServer, pagerduty: FakePagerDuty
) -> Case:
    if request.param == "slack":

        def refuse_slack() -> str:
            slack.answer_next(400, {"ok": False, "error": f"invalid_auth for Bearer {SECRETS.slack_token}"})
            return "invalid_auth"

        return Case(
            make=lambda env: SlackChannel.from_env(env, retry=FAST_RETRY),
            team=Team(slack="#ops"),
            required="SLACK_BOT_TOKEN",
            secret=SECRETS.slack_token,
            pages=lambda: len(slack.cards("#ops")),
            requests=lambda: len(slack.requests),
            fail_once=lambda: slack.answer_next(503, "upstream unavailable"),
            fail_permanently=refuse_slack,
        )
    if request.param == "email":

        def refuse_mail() -> str:
            smtp.handler.refuse = {
                "ops@example.com": "550 5.1.1 <ops@example.com>: Recipient address rejected"
            }
            return "Recipient address rejected"

        def fail_mail_once() -> None:
            smtp.handler.temporary_failures = 1

        return Case(
            make=lambda env: EmailChannel.from_env(env, retry=FAST_RETRY),
            team=Team(email=["ops@example.com"]),
            required="SMTP_HOST",
            secret=SECRETS.smtp_password,
            pages=lambda: len([m for m in smtp.received if m.message["In-Reply-To"] is None]),
            requests=lambda: smtp.handler.data_commands,
            fail_once=fail_mail_once,
            fail_permanently=refuse_mail,
        )

    def refuse_event() -> str:
        pagerduty.answer_next(
            400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["bad payload"]}
        )
        return "Event object is invalid"

    return Case(
        make=lambda env: PagerDutyChannel.from_env(env, retry=FAST_RETRY),
        team=Team(pagerduty=SECRETS.pd_key_dev),
        required="PAGERDUTY_API_URL",
        secret=SECRETS.pd_key_dev,
        pages=lambda: len(pagerduty.alerts),
        requests=lambda: len(pagerduty.requests),
        fail_once=lambda: pagerduty.answer_next(502, {"status": "bad gateway"}),
        fail_permanently=refuse_event,
    )


def message(incident: Incident, kind: Kind = "open", **kw: Any) -> Message:
    url = f"{PUBLIC_URL}/api/incidents/{incident.id}"
    return Message(
        kind=kind, incident=incident, text=kw.pop("text", f"{kind} happened"), incident_url=url, **kw
    )


def test_a_configured_channel_says_nothing_is_missing_and_names_what_is(
    case: Case, env: dict[str, str]
) -> None:
    assert case.make(env).configured() is None
    if case.required == "PAGERDUTY_API_URL":
        # PagerDuty's URL has a default; what a team lacks is its routing key (per team, responder.yaml).
        assert case.make(env).target("management", Team()) is None
        return
    missing = case.make({**env, case.required: ""}).configured()
    assert missing is not None and case.required in missing


def test_a_page_is_delivered_once_and_its_ref_lets_updates_land_on_it(
    case: Case, env: dict[str, str], incident: Incident
) -> None:
    channel = case.make(env)
    target = channel.target("ops-team", case.team)
    assert target is not None

    first = channel.send(message(incident), "ops-team", case.team, None)
    assert (first.status, first.target) == ("sent", target)
    assert first.ref
    assert case.pages() == 1

    update = channel.send(message(incident, "ack", by="alice"), "ops-team", case.team, first.ref)
    assert update.status == "sent"
    assert case.pages() == 1  # the acknowledgement went onto the page, not out as a second one


def test_a_transient_failure_is_retried_and_delivered_once(
    case: Case, env: dict[str, str], incident: Incident
) -> None:
    case.fail_once()
    delivery = case.make(env).send(message(incident), "ops-team", case.team, None)

    assert delivery.status == "sent"
    assert case.requests() == 2
    assert case.pages() == 1


def test_a_permanent_failure_fails_at_once_with_the_answer_and_no_secret(
    case: Case, env: dict[str, str], incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    quoted = case.fail_permanently()
    with pytest.raises(NotifyError) as failure:
        case.make(env).send(message(incident), "ops-team", case.team, None)

    shown = "".join(traceback.format_exception(failure.value)) + repr(failure.value)
    assert quoted in shown
    assert case.secret not in shown and case.secret not in caplog.text
    assert case.requests() <= 1  # not retried
    assert case.pages() == 0


def test_a_channel_names_a_target_only_for_a_team_it_can_reach(case: Case, env: dict[str, str]) -> None:
    channel = case.make(env)
    assert channel.target("ops-team", case.team) is not None
    assert channel.target("nobody", Team()) is None
    assert case.secret not in str(channel.target("ops-team", case.team))
