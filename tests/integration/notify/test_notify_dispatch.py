"""dispatch.notify: every channel x team, refs kept in Redis, failures and gaps recorded, never raised."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
import redis

from responder.config.loader import LoadedConfig
from responder.notify import dispatch
from responder.notify.base import Kind, Message
from responder.store.keys import Keys
from responder.store.records import Incident
from tests.fakes.notify_env import FAST_RETRY, PUBLIC_URL, SECRETS
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer

ALL = ["slack", "email", "pagerduty"]


def message(incident: Incident, kind: Kind = "open", **kw: Any) -> Message:
    url = f"{PUBLIC_URL}/api/incidents/{incident.id}"
    return Message(
        kind=kind, incident=incident, text=kw.pop("text", f"{kind} happened"), incident_url=url, **kw
    )


def send(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    msg: Message,
    teams: list[str],
    channels: list[str] = ALL,
) -> list[dict[str, Any]]:
    registry = dispatch.build_channels(env, FAST_RETRY)
    return dispatch.notify(redis_client, keys, config, msg, teams, channels, registry=registry, env=env)


def brief(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["channel"], r["target"], r["status"]) for r in records]


def test_level_two_reaches_every_team_on_every_channel_and_remembers_the_refs(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    smtp: SmtpServer,
    pagerduty: FakePagerDuty,
) -> None:
    records = send(redis_client, keys, config, env, message(incident), ["dev-team", "ops-team"])

    assert brief(records) == [
        ("slack", "#embedding-dev", "sent"),
        ("slack", "#ops", "sent"),
        ("email", "dev-team@example.com", "sent"),
        ("email", "ops@example.com", "sent"),
        ("pagerduty", "dev-team", "sent"),
        ("pagerduty", "ops-team", "sent"),
    ]
    assert all(set(r) == {"channel", "target", "team", "status", "detail"} for r in records)
    assert len(slack.cards("#embedding-dev")) == 1 and len(slack.cards("#ops")) == 1
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["dev-team@example.com", "ops@example.com"]
    assert {e["routing_key"] for e in pagerduty.events} == {SECRETS.pd_key_dev, SECRETS.pd_key_ops}
    # the incident link comes from public_url
    assert f"{PUBLIC_URL}/api/incidents/inc-20250101-0001" in json.dumps(
        slack.calls("chat.postMessage")[0].body
    )

    refs = redis_client.hgetall(keys.deliveries(incident.id))
    card = slack.cards("#ops")[0]
    assert refs["slack:#ops"] == f"{card.channel}:{card.ts}"
    assert (
        refs["email:ops@example.com"]
        == next(r for r in smtp.received if r.rcpt_tos == ["ops@example.com"]).message["Message-ID"]
    )
    assert refs["pagerduty:dev-team"] == "inc-20250101-0001"
    assert 0 < redis_client.ttl(keys.deliveries(incident.id)) <= 30 * 86400


def test_ack_updates_what_was_sent_using_the_stored_refs(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    smtp: SmtpServer,
    pagerduty: FakePagerDuty,
) -> None:
    send(redis_client, keys, config, env, message(incident), ["dev-team"])
    first_email = smtp.received[0].message["Message-ID"]
    records = send(
        redis_client,
        keys,
        config,
        env,
        message(incident, "ack", by="alice", text="Acknowledged by alice"),
        ["dev-team"],
    )

    assert brief(records) == [
        ("slack", "#embedding-dev", "sent"),
        ("email", "dev-team@example.com", "sent"),
        ("pagerduty", "dev-team", "sent"),
    ]
    [card] = slack.cards("#embedding-dev")
    assert card.edits == 1 and card.action_ids() == ["resolve", "silence_1h"]
    assert smtp.received[1].message["In-Reply-To"] == first_email
    assert pagerduty.alerts[(SECRETS.pd_key_dev, "inc-20250101-0001")] == "acknowledged"


def test_a_shared_slack_channel_gets_one_card(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
) -> None:
    teams = dict(config.responder.teams)
    teams["ops-team"] = teams["ops-team"].model_copy(update={"slack": "#embedding-dev"})
    shared = LoadedConfig(
        directory=config.directory,
        responder=config.responder.model_copy(update={"teams": teams}),
        rules=[],
        playbooks={},
    )
    records = send(redis_client, keys, shared, env, message(incident), ["dev-team", "ops-team"], ["slack"])
    assert brief(records) == [("slack", "#embedding-dev", "sent")]
    assert len(slack.calls("chat.postMessage")) == 1


def test_an_unconfigured_channel_is_recorded_as_skipped_and_the_others_still_page(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    smtp: SmtpServer,
    pagerduty: FakePagerDuty,
) -> None:
    env = {**env, "SLACK_BOT_TOKEN": ""}
    records = send(redis_client, keys, config, env, message(incident), ["dev-team"])

    assert records[0] == {
        "channel": "slack",
        "target": "#embedding-dev",
        "team": "dev-team",
        "status": "skipped",
        "detail": "SLACK_BOT_TOKEN is not set",
    }
    assert brief(records)[1:] == [
        ("email", "dev-team@example.com", "sent"),
        ("pagerduty", "dev-team", "sent"),
    ]
    assert slack.requests == []


def test_a_team_without_an_address_on_a_channel_is_recorded(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    smtp: SmtpServer,
) -> None:
    records = send(
        redis_client, keys, config, env, message(incident), ["management"], ["slack", "email", "pagerduty"]
    )
    assert [(r["channel"], r["status"], r["detail"]) for r in records] == [
        ("slack", "skipped", "team management has no slack address"),
        ("email", "sent", ""),
        ("pagerduty", "skipped", "team management has no pagerduty address"),
    ]


def test_one_broken_channel_fails_as_a_record_and_does_not_stop_the_others(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    smtp: SmtpServer,
    pagerduty: FakePagerDuty,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    slack.answer_next(400, {"ok": False, "error": "channel_not_found"})
    pagerduty.answer_next(
        400, {"status": "invalid event", "errors": [f"Invalid routing key: {SECRETS.pd_key_dev}"]}
    )
    env = {**env, "SMTP_PASSWORD": SECRETS.smtp_password}
    records = send(redis_client, keys, config, env, message(incident), ["dev-team"])

    assert brief(records) == [
        ("slack", "#embedding-dev", "failed"),
        ("email", "dev-team@example.com", "sent"),
        ("pagerduty", "dev-team", "failed"),
    ]
    assert records[0]["detail"] == (
        'slack: chat.postMessage to #embedding-dev: HTTP 400: {"ok": false, "error": "channel_not_found"}'
    )
    assert records[2]["detail"].endswith(
        'HTTP 400: {"status": "invalid event", "errors": ["Invalid routing key: ***"]}'
    )
    recorded = json.dumps(records) + caplog.text
    for secret in SECRETS.all():
        assert secret not in recorded
    # nothing was stored for the failed deliveries, so a later open posts afresh
    fields = set(redis_client.hkeys(keys.deliveries(incident.id)))
    assert fields == {"email:dev-team@example.com"}


def test_ack_where_nothing_was_delivered_is_skipped(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
) -> None:
    records = send(redis_client, keys, config, env, message(incident, "ack", by="alice"), ["ops-team"])
    assert {r["status"] for r in records} == {"skipped"}
    assert records[0]["detail"] == "nothing was delivered to #ops for this incident"
    assert slack.requests == [] and pagerduty.requests == []


def test_a_note_goes_to_the_slack_thread_email_and_is_skipped_on_pagerduty(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
    smtp: SmtpServer,
) -> None:
    send(redis_client, keys, config, env, message(incident), ["dev-team"])
    records = send(
        redis_client, keys, config, env, message(incident, "note", text="Workers restarted"), ["dev-team"]
    )
    assert brief(records) == [
        ("slack", "#embedding-dev", "sent"),
        ("email", "dev-team@example.com", "sent"),
        ("pagerduty", "dev-team", "skipped"),
    ]
    assert [r.text for r in slack.cards("#embedding-dev")[0].replies] == ["Workers restarted"]
    plain = smtp.received[1].message.get_body(("plain",))
    assert plain is not None and "Workers restarted" in plain.get_content()


def test_unknown_team_or_channel_is_a_failed_record(
    redis_client: redis.Redis, keys: Keys, config: LoadedConfig, env: dict[str, str], incident: Incident
) -> None:
    records = send(redis_client, keys, config, env, message(incident), ["nobody"], ["sms", "email"])
    assert [(r["channel"], r["status"], r["detail"]) for r in records] == [
        ("sms", "failed", "unknown channel 'sms'; known: slack, email, pagerduty"),
        ("email", "failed", "team 'nobody' is not defined in responder.yaml"),
    ]


def test_outcomes_are_counted(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    smtp: SmtpServer,
) -> None:
    send(redis_client, keys, config, env, message(incident), ["dev-team"], ["email"])
    send(redis_client, keys, config, {**env, "SMTP_HOST": ""}, message(incident), ["dev-team"], ["email"])
    assert redis_client.get(keys.counter("notifications:email:sent")) == "1"
    assert redis_client.get(keys.counter("notifications:email:skipped")) == "1"


def test_channels_status_reports_what_is_missing(env: dict[str, str]) -> None:
    assert dispatch.channels_status(env) == {"slack": None, "email": None, "pagerduty": None}
    assert dispatch.channels_status({}) == {
        "slack": "SLACK_BOT_TOKEN is not set",
        "email": "SMTP_HOST and EMAIL_FROM are not set",
        "pagerduty": None,
    }


def test_a_slow_channel_does_not_lose_the_first_ref_to_a_concurrent_send(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    slack: FakeSlack,
) -> None:
    # Two workers notifying the same incident at once must still produce one card.
    results: list[list[dict[str, Any]]] = []

    def worker(kind: Kind) -> None:
        results.append(
            send(redis_client, keys, config, env, message(incident, kind), ["dev-team"], ["slack"])
        )

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("open", "note")]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    assert len(results) == 2 and all(r[0]["status"] == "sent" for r in results)
    assert len(slack.cards("#embedding-dev")) == 1


def test_a_first_send_lock_left_by_a_dead_worker_does_not_hold_the_page_for_its_ttl(
    redis_client: redis.Redis,
    keys: Keys,
    config: LoadedConfig,
    env: dict[str, str],
    incident: Incident,
    pagerduty: FakePagerDuty,
) -> None:
    # A worker killed between PagerDuty's answer and releasing its lock leaves the lock for its full TTL
    # and no ref; the next level's page to that target must go out without waiting that TTL out.
    lock = keys.delivery_lock(incident.id, "pagerduty:dev-team")
    redis_client.set(lock, "token-of-a-dead-worker", ex=dispatch.FIRST_SEND_LOCK)

    escalated = message(incident, "escalate")
    records = send(redis_client, keys, config, env, escalated, ["dev-team"], ["pagerduty"])

    assert brief(records) == [("pagerduty", "dev-team", "sent")]
    assert [e["routing_key"] for e in pagerduty.events] == [SECRETS.pd_key_dev]
    # Sent while the dead worker's lock still stood: the send did not wait for it to expire.
    assert redis_client.get(lock) == "token-of-a-dead-worker"
    assert redis_client.ttl(lock) > dispatch.FIRST_SEND_LOCK - 60
