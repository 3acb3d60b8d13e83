"""PagerDuty: Events API v2 trigger, acknowledge and resolve, one alert per incident per service.

The incident id is the ``dedup_key``, so re-triggering (escalation, retries, a second
worker) updates the same PagerDuty alert instead of opening another, and the ref
stored for later acknowledge/resolve is the dedup key PagerDuty answered with.

Severity: critical→critical, high→error, medium→warning, low→info.

Notes and step outcomes are *not* sent. Events API v2 has no note action; the
alternative, a change event, lands on the service's change timeline (not on the
incident), where PagerDuty's triage shows it as a "recent change" that might have
caused the incident — misleading for a message like "workers restarted". Incident
notes proper need a REST API token and a user's email, credentials this service does
not hold. A note is therefore recorded as ``skipped`` with that reason, and lives in
the responder's timeline and the Slack thread.

Retries: the ``pagerduty`` client retries 429 *without limit* by default, sleeping in
the worker. Here a 429 gets one quick retry in the client (its only way to stop short
of retrying forever: ``retry[429] = 0`` means "forever"), then raises
:class:`RateLimited` and the delivery is re-enqueued for later (PagerDuty sends no
Retry-After; :data:`responder.notify.base.DEFAULT_RETRY_AFTER` then). Every 5xx gets
``Retry.retries`` more attempts with doubling waits, network errors the same, and then
fails with PagerDuty's answer (never the routing key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pagerduty

from responder.config.models import Team
from responder.errors import NotifyError, RateLimited
from responder.notify.base import (
    Delivery,
    Message,
    Retry,
    env_value,
    environ,
    http_failure,
    redact,
    retry_after,
    ssl_context,
    truncate,
)

DEFAULT_API_URL = "https://events.pagerduty.com"
TIMEOUT = 10
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
PD_SEVERITIES = ("critical", "error", "warning", "info")
NOTES_UNSUPPORTED = (
    "PagerDuty Events API v2 has no incident notes; see the responder timeline and the Slack thread"
)
SOURCE_LABELS = ("instance", "service", "job", "namespace")


def pd_severity(severity: str) -> str:
    """Our severity as PagerDuty's; an unknown one pages as critical rather than being played down."""
    if severity in SEVERITY:
        return SEVERITY[severity]
    return severity if severity in PD_SEVERITIES else "critical"


class PagerDutyChannel:
    name = "pagerduty"

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        *,
        retry: Retry | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.retry = retry or Retry()
        self._env = environ(env)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, retry: Retry | None = None) -> PagerDutyChannel:
        env = environ(env)
        return cls(env_value(env, "PAGERDUTY_API_URL") or DEFAULT_API_URL, retry=retry, env=env)

    def configured(self) -> str | None:
        # Routing keys are per team (responder.yaml); a team without one is reported per send.
        if not self.base_url.startswith("https://"):
            return f"PAGERDUTY_API_URL must be an https:// URL, not {self.base_url!r}"
        return None

    def secrets(self) -> list[str]:
        return []

    def target(self, team: str, config: Team) -> str | None:
        # The routing key is a secret: the record names the team, never the key.
        return team if config.pagerduty else None

    def client(self, routing_key: str) -> pagerduty.EventsApiV2Client:
        tls = ssl_context(self._env)
        client = pagerduty.EventsApiV2Client(routing_key, base_url=self.base_url, verify=tls)
        # The default retries 429 forever (and some 5xx up to 6 times): bound both.
        client.retry = {status: self.retry.retries for status in range(500, 600)}
        client.retry[429] = 1
        client.max_http_attempts = self.retry.retries
        client.max_network_attempts = self.retry.retries
        # The client multiplies by sleep_timer_base (2) before each wait: the first wait is our backoff.
        client.sleep_timer = self.retry.backoff / client.sleep_timer_base
        client.timeout = TIMEOUT
        return client

    def send(self, message: Message, team: str, config: Team, ref: str | None) -> Delivery:
        routing_key = config.pagerduty
        if not routing_key:
            raise NotifyError(f"pagerduty: team {team} has no routing key")
        if message.kind in ("note", "step"):
            return Delivery("pagerduty", team, ref, status="skipped", detail=NOTES_UNSUPPORTED)
        dedup_key = ref or message.incident_id
        with self.client(routing_key) as client:
            try:
                if message.kind == "ack":
                    client.acknowledge(dedup_key)
                elif message.kind == "resolve":
                    client.resolve(dedup_key)
                else:
                    dedup_key = client.trigger(dedup_key=dedup_key, **trigger_fields(message))
            except pagerduty.Error as exc:
                raise failure(f"pagerduty: {message.kind} for {team}", exc, routing_key) from None
        return Delivery("pagerduty", team, dedup_key)


def failure(where: str, exc: pagerduty.Error, routing_key: str) -> NotifyError:
    """The NotifyError for a client error, built from the response (never the library's text,
    which may include a truncated routing key)."""
    if exc.response is None:
        # No response at all: connection refused, TLS failure, timeouts (after retries).
        cause = exc.__cause__
        text = f"{exc} ({type(cause).__name__}: {cause})" if cause is not None else str(exc)
        return NotifyError(f"{where} failed: {redact(truncate(text), [routing_key])}")
    status, body = int(exc.response.status_code), str(exc.response.text)
    if status == 429:
        wait = retry_after(exc.response.headers)
        return RateLimited(f"{where}: rate limited (HTTP 429), retry after {wait:g}s", wait)
    if not 200 <= status < 300:
        return http_failure(where, status, body, [routing_key])
    # 2xx without a dedup_key: PagerDuty did not say it took the event.
    return NotifyError(f"{where}: unexpected answer: {redact(truncate(body), [routing_key])}")


def trigger_fields(message: Message) -> dict[str, Any]:
    """``summary``, ``source``, ``severity``, ``custom_details`` and ``links`` of a trigger event."""
    labels = message.labels
    source = next((labels[k] for k in SOURCE_LABELS if labels.get(k)), "alert-responder")
    details: dict[str, Any] = {
        "incident": message.incident_url or message.incident_id,
        "rule": message.rule,
        "level": message.level,
        "reason": message.text,  # why this page: "incident opened", "automation did not clear it: ..."
        "status": message.status,
        "labels": labels,
        "annotations": message.annotations,
    }
    links = []
    if message.incident_url:
        links.append({"href": message.incident_url, "text": f"Incident {message.incident_id}"})
    if message.alert_url:
        links.append({"href": message.alert_url, "text": "Alert source"})
    extra: dict[str, Any] = {}
    if labels.get("alertname"):
        extra["class"] = labels["alertname"]
    if labels.get("namespace"):
        extra["group"] = labels["namespace"]
    return {
        "summary": truncate(f"{message.rule or message.title}: {message.summary}", 1024),
        "source": truncate(source, 255),
        "severity": pd_severity(message.severity),
        "custom_details": details,
        "links": links or None,
        "payload": extra or None,
    }
