"""PagerDuty through the real ``pagerduty`` EventsApiV2Client against a fake Events API over HTTPS."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from responder.config.models import Team
from responder.errors import NotifyError, RateLimited
from responder.notify.base import DEFAULT_RETRY_AFTER, Kind, Message
from responder.notify.pagerduty import NOTES_UNSUPPORTED, PagerDutyChannel
from responder.store.records import Incident
from tests.fakes.notify_env import FAST_RETRY, PUBLIC_URL, SECRETS
from tests.fakes.pagerduty import FakePagerDuty

DEV = Team(pagerduty=SECRETS.pd_key_dev)


def message(incident: Incident, kind: Kind = "open", **kw: Any) -> Message:
    text = kw.pop("text", f"{kind} happened")
    url = f"{PUBLIC_URL}/api/incidents/{incident.id}"
    return Message(kind=kind, incident=incident, text=text, incident_url=url, **kw)


def channel(env: dict[str, str], **overrides: str) -> PagerDutyChannel:
    return PagerDutyChannel.from_env({**env, **overrides}, retry=FAST_RETRY)


def test_trigger_sends_the_event_with_dedup_key_severity_details_and_links(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    delivery = channel(env).send(message(incident), "dev-team", DEV, None)

    [request] = pagerduty.requests
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    assert request.content_type == "application/json"
    event = request.body
    assert event["routing_key"] == SECRETS.pd_key_dev
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "inc-20250101-0001"
    payload = event["payload"]
    assert payload["summary"] == "api_quota_exhaustion: API quota at 97% <embedding-api> & rising"
    assert payload["severity"] == "critical"
    assert payload["source"] == "embedding-api"
    assert payload["class"] == "APIQuotaExhaustion" and payload["group"] == "embedding"
    assert payload["custom_details"] == {
        "incident": f"{PUBLIC_URL}/api/incidents/inc-20250101-0001",
        "rule": "api_quota_exhaustion",
        "level": 1,
        "reason": "open happened",
        "status": "triggered",
        "labels": incident.labels,
        "annotations": incident.annotations,
    }
    assert event["links"] == [
        {"href": f"{PUBLIC_URL}/api/incidents/inc-20250101-0001", "text": "Incident inc-20250101-0001"},
        {"href": incident.generator_url, "text": "Alert source"},
    ]
    assert (delivery.ref, delivery.target, delivery.status) == ("inc-20250101-0001", "dev-team", "sent")
    assert pagerduty.alerts == {(SECRETS.pd_key_dev, "inc-20250101-0001"): "triggered"}


@pytest.mark.parametrize(
    ("ours", "theirs"), [("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info")]
)
def test_severity_is_mapped_to_pagerdutys(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident, ours: str, theirs: str
) -> None:
    channel(env).send(message(replace(incident, severity=ours)), "dev-team", DEV, None)
    assert pagerduty.events[0]["payload"]["severity"] == theirs


def test_ack_and_resolve_use_the_stored_dedup_key(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "dev-team", DEV, None).ref
    ch.send(message(incident, "ack", by="alice"), "dev-team", DEV, ref)
    assert pagerduty.alerts[(SECRETS.pd_key_dev, "inc-20250101-0001")] == "acknowledged"
    ch.send(message(incident, "resolve", by="bob"), "dev-team", DEV, ref)

    actions = [(e["event_action"], e["dedup_key"]) for e in pagerduty.events]
    assert actions == [
        ("trigger", "inc-20250101-0001"),
        ("acknowledge", "inc-20250101-0001"),
        ("resolve", "inc-20250101-0001"),
    ]
    assert "payload" not in pagerduty.events[1] and "payload" not in pagerduty.events[2]
    assert pagerduty.alerts[(SECRETS.pd_key_dev, "inc-20250101-0001")] == "resolved"


def test_escalation_retriggers_the_same_alert(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    ref = ch.send(message(incident), "dev-team", DEV, None).ref
    ch.send(message(incident, "escalate", level=2), "dev-team", DEV, ref)
    assert [e["dedup_key"] for e in pagerduty.events] == ["inc-20250101-0001", "inc-20250101-0001"]
    assert pagerduty.events[1]["payload"]["custom_details"]["level"] == 2
    assert len(pagerduty.alerts) == 1


def test_a_note_is_skipped_with_the_reason_and_sends_nothing(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    delivery = channel(env).send(message(incident, "note", text="Workers restarted"), "dev-team", DEV, "x")
    assert (delivery.status, delivery.detail) == ("skipped", NOTES_UNSUPPORTED)
    assert pagerduty.requests == []


def test_rate_limiting_is_retried_once_then_handed_back_to_be_re_enqueued(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    # The library's default would retry a 429 forever, sleeping in the worker; ours asks twice and
    # raises, so the delivery is retried by a job later (PagerDuty sends no Retry-After: a default).
    pagerduty.answer_always(
        429, {"status": "throttled", "message": "Requests for this service are throttled"}
    )
    with pytest.raises(RateLimited) as limited:
        channel(env).send(message(incident), "dev-team", DEV, None)
    assert str(limited.value) == "pagerduty: open for dev-team: rate limited (HTTP 429), retry after 5s"
    assert limited.value.retry_after == DEFAULT_RETRY_AFTER
    assert len(pagerduty.requests) == 2


def test_rate_limited_once_then_delivered_once(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident
) -> None:
    pagerduty.answer_next(429, {"status": "throttled"})
    pagerduty.answer_next(502, {"status": "bad gateway"})
    channel(env).send(message(incident), "dev-team", DEV, None)
    assert len(pagerduty.requests) == 3
    assert pagerduty.alerts == {(SECRETS.pd_key_dev, "inc-20250101-0001"): "triggered"}


def test_an_invalid_event_fails_at_once_with_the_body_but_never_the_routing_key(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    unknown_key = "UNKNOWNROUTINGKEY000000000000009"
    with pytest.raises(NotifyError) as failure:
        channel(env).send(message(incident), "dev-team", Team(pagerduty=unknown_key), None)

    text = str(failure.value)
    assert text.startswith("pagerduty: open for dev-team: HTTP 400: ")
    assert "Event object is invalid" in text and "Invalid routing key: ***" in text
    shown = "".join(traceback.format_exception(failure.value))
    assert unknown_key not in shown and unknown_key not in caplog.text
    assert len(pagerduty.requests) == 1


def test_an_untrusted_certificate_is_refused(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(NotifyError, match="CERTIFICATE_VERIFY_FAILED"):
        channel(env, SSL_CERT_FILE=str(other)).send(message(incident), "dev-team", DEV, None)
    assert pagerduty.requests == []


def test_the_process_ssl_cert_file_is_honoured_by_default(
    pagerduty: FakePagerDuty, env: dict[str, str], incident: Incident, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", env["SSL_CERT_FILE"])
    monkeypatch.setenv("PAGERDUTY_API_URL", pagerduty.url)
    PagerDutyChannel.from_env(retry=FAST_RETRY).send(message(incident), "dev-team", DEV, None)
    assert len(pagerduty.events) == 1


def test_configuration(env: dict[str, str]) -> None:
    assert channel(env).configured() is None
    assert PagerDutyChannel.from_env({}).base_url == "https://events.pagerduty.com"
    assert channel(env, PAGERDUTY_API_URL="http://events.example.com").configured() == (
        "PAGERDUTY_API_URL must be an https:// URL, not 'http://events.example.com'"
    )
    assert channel(env).target("management", Team(email=["m@example.com"])) is None
    assert channel(env).target("dev-team", DEV) == "dev-team"  # the team, never the routing key
