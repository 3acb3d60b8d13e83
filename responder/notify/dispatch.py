"""Send one message on several channels to several teams, remembering where it went.

For each channel and team, :func:`notify` finds where that team is reached (its Slack
channel, its email addresses, its PagerDuty service), looks up what the first
delivery there returned (``keys.deliveries(incident_id)``, field ``channel:target``),
sends, and stores the ref of a first delivery so later updates edit or thread onto
it. It returns one timeline-ready record per delivery::

    {"channel": "slack", "target": "#ops", "team": "ops-team", "status": "sent", "detail": ""}

``status`` is ``sent``, ``skipped`` (the channel has no credentials, the team no
address there, or there is nothing to update), ``failed`` (``detail`` has the
server's answer), ``deferred`` (rate-limited: sent by a job once the service's
Retry-After has passed) or ``queued`` (waiting behind a deferred one to the same
target, to keep the order; :mod:`responder.notify.pending`). A failure is a record,
never an exception, so one broken channel does not keep the others from paging. Two
teams sharing a Slack channel or a mailing list get one delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis

from responder.config.loader import LoadedConfig
from responder.config.models import Team
from responder.errors import NotifyError, RateLimited
from responder.notify import pending
from responder.notify.base import UPDATE_KINDS, Channel, Delivery, Message, Retry, env_value, environ, redact
from responder.notify.email import EmailChannel
from responder.notify.pagerduty import PagerDutyChannel
from responder.notify.pending import Later
from responder.notify.slack import SlackChannel
from responder.store.keys import INCIDENT_RETENTION, Keys

log = logging.getLogger(__name__)

CHANNELS = ("slack", "email", "pagerduty")
FIRST_SEND_LOCK = 120
"""Seconds one worker may hold the right to make the first delivery to a target (retries included)."""
FIRST_SEND_WAIT = 5
"""Seconds another send to that target waits for it before going ahead anyway. A first delivery takes
well under a second; a worker that died while holding the lock leaves it for FIRST_SEND_LOCK, and
waiting that out would page the next level two minutes late."""


def build_channels(env: Mapping[str, str] | None = None, retry: Retry | None = None) -> dict[str, Channel]:
    """Every channel, configured from the environment (docs/operations.md, Environment)."""
    return {
        "slack": SlackChannel.from_env(env, retry),
        "email": EmailChannel.from_env(env, retry),
        "pagerduty": PagerDutyChannel.from_env(env, retry),
    }


def channels_status(
    env: Mapping[str, str] | None = None, config: LoadedConfig | None = None
) -> dict[str, str | None]:
    """Per channel, ``None`` when it can send, else what is missing: for ``/ready`` and ``responder check``.

    With ``config``, PagerDuty also needs a team with a routing key (an unset
    ``${PD_ROUTING_KEY_...}`` leaves it empty). Whether Slack button clicks can be verified
    is a separate question: :func:`responder.notify.slack_interactions.configured`.
    """
    status = {name: channel.configured() for name, channel in build_channels(env).items()}
    keyless = config is not None and not any(team.pagerduty for team in config.responder.teams.values())
    if keyless and status["pagerduty"] is None:
        status["pagerduty"] = "no team has a routing key (teams.<name>.pagerduty is empty or unset)"
    return status


@dataclass(frozen=True)
class _Target:
    """One place a message goes: a channel's target for a team (the first team that has it)."""

    name: str
    channel: Channel
    team: str
    team_config: Team
    target: str


def notify(
    redis: Redis,
    keys: Keys,
    config: LoadedConfig,
    message: Message,
    teams: list[str],
    channels: list[str],
    *,
    registry: Mapping[str, Channel] | None = None,
    env: Mapping[str, str] | None = None,
    later: Later | None = None,
) -> list[dict[str, Any]]:
    """Deliver ``message`` on ``channels`` to ``teams``; one record per (channel, target), in order.

    A delivery the service rate-limits (429) is ``deferred``: with ``later``, it is sent by a
    job once the service's Retry-After has passed (:mod:`responder.notify.pending`), and
    until then later messages to that target are ``queued`` behind it; without ``later`` it
    is ``failed``. ``registry`` replaces the channels built from ``env`` (tests use it for
    short retries). Raises only if Redis itself fails (the caller's job is then retried).
    """
    registry = build_channels(env) if registry is None else registry
    secrets = all_secrets(registry, config, env)
    records: list[dict[str, Any]] = []

    def record(channel: str, target: str, team: str, status: str, detail: str = "") -> None:
        records.append(
            record_delivery(redis, keys, message.kind, channel, target, team, status, redact(detail, secrets))
        )

    plan: list[_Target | tuple[str, str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for name in channels:
        channel = registry.get(name)
        if channel is None:
            plan.append((name, "-", "-", "failed", f"unknown channel {name!r}; known: {', '.join(registry)}"))
            continue
        missing = channel.configured()
        for team in teams:
            team_config = config.responder.teams.get(team)
            if team_config is None:
                plan.append((name, "-", team, "failed", f"team {team!r} is not defined in responder.yaml"))
                continue
            target = channel.target(team, team_config)
            if target is None:
                plan.append((name, "-", team, "skipped", f"team {team} has no {name} address"))
                continue
            if (name, target) in seen:
                continue
            seen.add((name, target))
            if missing:
                plan.append((name, target, team, "skipped", missing))
            else:
                plan.append(_Target(name, channel, team, team_config, target))

    # The stored refs and which targets have deliveries waiting out a rate limit: one round trip.
    incident_id = message.incident_id
    sendable = [t for t in plan if isinstance(t, _Target)]
    refs_key = keys.deliveries(incident_id)
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(refs_key)
        for t in sendable:
            pipe.exists(keys.pending_deliveries(incident_id, t.name, t.target))
        raw_refs, *waiting = pipe.execute()
    refs = {_text(k): _text(v) for k, v in raw_refs.items()}
    held = {(t.name, t.target) for t, w in zip(sendable, waiting, strict=True) if w}

    for item in plan:
        if not isinstance(item, _Target):
            record(*item)
            continue
        name, target, team = item.name, item.target, item.team
        if (name, target) in held and later is not None:
            pending_key = keys.pending_deliveries(incident_id, name, target)
            if pending.queue_behind(redis, pending_key, pending.entry(message, team, later.now)):
                record(name, target, team, "queued", "behind a rate-limited delivery; sent in order after it")
                continue
        ref = refs.get(f"{name}:{target}")
        if message.kind in UPDATE_KINDS and ref is None:
            record(name, target, team, "skipped", f"nothing was delivered to {target} for this incident")
            continue
        try:
            delivery = send(redis, keys, item.channel, message, team, item.team_config, ref)
        except RateLimited as exc:
            if later is None:
                record(name, target, team, "failed", str(exc))
                continue
            item_json = pending.entry(message, team, later.now)
            pending.defer(redis, keys, later, incident_id, name, target, item_json, exc.retry_after)
            record(name, target, team, "deferred", f"{exc}; sent then, and later messages there after it")
            continue
        except NotifyError as exc:
            record(name, target, team, "failed", str(exc))
            continue
        except Exception as exc:
            record(name, target, team, "failed", f"{type(exc).__name__}: {exc}")
            continue
        record(name, target, team, delivery.status, delivery.detail)
    return records


def record_delivery(
    redis: Redis, keys: Keys, kind: str, channel: str, target: str, team: str, status: str, detail: str
) -> dict[str, Any]:
    """A timeline-ready delivery record, counted (``responder_notifications``) and logged when it failed."""
    redis.incr(keys.counter(f"notifications:{channel}:{status}"))
    if status == "failed":
        # %r: the detail quotes a server's answer, and a newline in it must not forge a log line.
        log.warning("notify %s %s to %s failed: %r", kind, channel, target, detail)
    return {"channel": channel, "target": target, "team": team, "status": status, "detail": detail}


def send(
    redis: Redis,
    keys: Keys,
    channel: Channel,
    message: Message,
    team: str,
    team_config: Team,
    ref: str | None,
) -> Delivery:
    """One delivery: the first to its target under a lock (remembering its ref), later ones onto the ref.

    Raises what the channel raises; a :class:`RateLimited` that carries a ref (a card posted
    before its thread line was refused) has that ref remembered first.
    """
    refs_key = keys.deliveries(message.incident_id)
    field = f"{channel.name}:{channel.target(team, team_config)}"
    try:
        if ref is None:
            return _first_send(redis, keys, field, channel, message, team, team_config)
        return channel.send(message, team, team_config, ref)
    except RateLimited as exc:
        if exc.ref is not None and ref is None:
            _remember(redis, refs_key, field, exc.ref)
        raise


def _remember(redis: Redis, refs_key: str, field: str, ref: str) -> None:
    redis.hsetnx(refs_key, field, ref)
    redis.expire(refs_key, INCIDENT_RETENTION)


def _first_send(
    redis: Redis,
    keys: Keys,
    field: str,
    channel: Channel,
    message: Message,
    team: str,
    team_config: Team,
) -> Delivery:
    """Send where nothing was delivered yet, under a lock, so two workers do not post two cards.

    If the lock cannot be had within FIRST_SEND_WAIT the send goes ahead anyway: a duplicate
    card is better than a page not sent, or sent minutes late because the worker holding the
    lock died mid-send.
    """
    refs_key = keys.deliveries(message.incident_id)
    lock_key = keys.delivery_lock(message.incident_id, field)
    lock = redis.lock(lock_key, timeout=FIRST_SEND_LOCK, blocking_timeout=FIRST_SEND_WAIT)
    held = lock.acquire()
    try:
        ref = redis.hget(refs_key, field)
        delivery = channel.send(message, team, team_config, _text(ref) if ref is not None else None)
        if ref is None and delivery.ref:
            _remember(redis, refs_key, field, delivery.ref)
        return delivery
    finally:
        if held:
            lock.release()


def all_secrets(
    registry: Mapping[str, Channel], config: LoadedConfig, env: Mapping[str, str] | None
) -> list[str]:
    """Everything that must never reach a record or a log line."""
    secrets = [s for channel in registry.values() for s in channel.secrets()]
    secrets += [team.pagerduty for team in config.responder.teams.values() if team.pagerduty]
    env = environ(env)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SMTP_PASSWORD"):
        value = env_value(env, name)
        if value:
            secrets.append(value)
    return secrets


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
