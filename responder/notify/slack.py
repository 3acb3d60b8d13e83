"""Slack: one Block Kit message per incident per channel, edited in place, with a thread.

The first send to a channel posts the incident card (``chat.postMessage``) and its
``channel:ts`` becomes the ref. Later sends edit that card (``chat.update``) on
escalate, ack and resolve, and post to its thread (``thread_ts``) what happened:
escalations, acknowledgements, notes and playbook step outcomes. Resolving removes
the buttons; acknowledging shows who did and keeps Resolve and Silence 1h. A run waiting
for confirmation (``automation: confirm``) adds a Run button to the card.

Retries: a 429 is not retried here (slack-sdk's ``RateLimitErrorRetryHandler`` would
sleep out Retry-After inside the worker): it raises :class:`RateLimited` with Slack's
Retry-After and the delivery is re-enqueued for then. 5xx and dropped connections are
retried with backoff a bounded number of times; what still fails raises
:class:`NotifyError` with Slack's answer (never the token).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

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

DEFAULT_API_URL = "https://slack.com/api/"
TIMEOUT = 10
"""Seconds per HTTP request; a slow Slack must not hold a worker for long."""

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
}
KEY_LABELS = ("alertname", "severity", "namespace", "service", "job", "instance", "deployment", "pod")
MAX_LABELS = 8
REPLY_KINDS = ("escalate", "ack", "resolve", "note", "step")
"""Kinds that leave a line in the thread once the card exists."""


class _Backoff(RetryIntervalCalculator):
    """Our :class:`Retry` schedule, without slack-sdk's up-to-a-second jitter."""

    def __init__(self, retry: Retry) -> None:
        self.retry = retry

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return float(min(self.retry.backoff * (2**current_attempt), self.retry.max_wait))


class ServerErrorRetryHandler(RetryHandler):
    """Retries every 5xx (slack-sdk's own handler only knows 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code >= 500


def retry_handlers(retry: Retry) -> list[RetryHandler]:
    intervals = _Backoff(retry)
    return [
        ServerErrorRetryHandler(max_retry_count=retry.retries, interval_calculator=intervals),
        ConnectionErrorRetryHandler(
            max_retry_count=retry.retries,
            interval_calculator=intervals,
            error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError],
        ),
    ]


class SlackChannel:
    name = "slack"

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: Retry | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.token = token
        self.base_url = base_url
        self.retry = retry or Retry()
        self._env = environ(env)
        self._client: WebClient | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, retry: Retry | None = None) -> SlackChannel:
        env = environ(env)
        return cls(
            env_value(env, "SLACK_BOT_TOKEN"),
            base_url=env_value(env, "SLACK_API_URL") or DEFAULT_API_URL,
            retry=retry,
            env=env,
        )

    def configured(self) -> str | None:
        if not self.token:
            return "SLACK_BOT_TOKEN is not set"
        if not self.base_url.startswith(("https://", "http://")):
            return f"SLACK_API_URL must be an http(s) URL, not {self.base_url!r}"
        return None

    def secrets(self) -> list[str]:
        return [self.token] if self.token else []

    def target(self, team: str, config: Team) -> str | None:
        return config.slack or None

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = WebClient(
                token=self.token,
                base_url=self.base_url,
                timeout=TIMEOUT,
                ssl=ssl_context(self._env) if self.base_url.startswith("https://") else None,
                retry_handlers=retry_handlers(self.retry),
            )
        return self._client

    def send(self, message: Message, team: str, config: Team, ref: str | None) -> Delivery:
        target = config.slack
        if not target:
            raise NotifyError(f"slack: team {team} has no slack channel")
        if ref is None:
            answer = self._call(
                "chat.postMessage",
                target,
                channel=target,
                text=fallback_text(message),
                blocks=incident_blocks(message),
                unfurl_links=False,
            )
            ref = f"{answer['channel']}:{answer['ts']}"
            # A note or step outcome is posted as the card plus its line in the thread, so the
            # thread reads the same whether or not the card existed before.
            if message.kind in ("note", "step"):
                try:
                    self._reply(message, ref, target)
                except RateLimited as exc:
                    raise RateLimited(str(exc), exc.retry_after, ref) from None  # the card is there
            return Delivery("slack", target, ref)
        if message.kind in ("open", "escalate", "ack", "resolve"):
            channel, ts = split_ref(ref)
            self._call(
                "chat.update",
                target,
                channel=channel,
                ts=ts,
                text=fallback_text(message),
                blocks=incident_blocks(message),
            )
        if message.kind in REPLY_KINDS:
            self._reply(message, ref, target)
        return Delivery("slack", target, ref)

    def post_text(self, channel: str, text: str) -> None:
        """A plain message that belongs to no incident (the daily digest).

        Raises:
            NotifyError: not configured, or Slack refused it.
        """
        missing = self.configured()
        if missing:
            raise NotifyError(f"slack: {missing}")
        self._call("chat.postMessage", channel, channel=channel, text=escape(text), unfurl_links=False)

    def _reply(self, message: Message, ref: str, target: str) -> None:
        channel, ts = split_ref(ref)
        self._call(
            "chat.postMessage",
            target,
            channel=channel,
            thread_ts=ts,
            text=escape(message.text),
            blocks=reply_blocks(message),
            unfurl_links=False,
        )

    def _call(self, method: str, target: str, **params: Any) -> dict[str, Any]:
        """Call a Web API method; every failure becomes a NotifyError free of the token."""
        secrets = self.secrets()
        try:
            response = self.client.api_call(method, json=params)
        except SlackApiError as exc:
            status = int(exc.response.status_code)
            data = exc.response.data
            body = response_body(data)
            where = f"slack: {method} to {target}"
            if status == 429:
                wait = retry_after(exc.response.headers)
                raise RateLimited(f"{where}: rate limited (HTTP 429), retry after {wait:g}s", wait) from None
            if 200 <= status < 300:
                # Slack answers most errors with 200 and {"ok": false, "error": "..."}.
                error = data.get("error", body) if isinstance(data, dict) else body
                raise NotifyError(f"{where} failed: {redact(truncate(str(error)), secrets)}") from None
            raise http_failure(where, status, body, secrets) from None
        except (SlackClientError, OSError) as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", secrets)
            where = f"slack: {method} to {target}"
            raise NotifyError(f"{where} could not reach {self.base_url}: {detail}") from None
        data = response.data
        if not isinstance(data, dict):  # pragma: no cover - only file downloads answer bytes
            raise NotifyError(f"slack: {method} to {target} answered with a non-JSON body")
        return data


NON_JSON = "Received a response in a non-JSON format: "


def response_body(data: Any) -> str:
    """The body as Slack sent it; slack-sdk wraps a non-JSON body (a proxy's error page) in its own JSON."""
    if isinstance(data, dict):
        error = data.get("error")
        if set(data) == {"ok", "error"} and isinstance(error, str) and error.startswith(NON_JSON):
            return error.removeprefix(NON_JSON)
        return json.dumps(data)
    return str(data)


def split_ref(ref: str) -> tuple[str, str]:
    """A Slack ref is ``<channel id>:<ts>``; chat.update needs the id, not the channel's name."""
    channel, _, ts = ref.rpartition(":")
    if not channel or not ts:
        raise NotifyError(f"slack: stored ref {ref!r} is not <channel>:<ts>")
    return channel, ts


# --- Block Kit -----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack mrkdwn control characters; label values and summaries are data, never markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    safe_url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{safe_url}|{escape(label)}>"


def fallback_text(message: Message) -> str:
    """The notification text (and what screen readers say) for the card."""
    return escape(f"[{message.severity.upper()}] {message.title}: {message.summary} ({message.status})")


def key_labels(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    first = [(k, labels[k]) for k in KEY_LABELS if k in labels]
    rest = sorted((k, v) for k, v in labels.items() if k not in KEY_LABELS)
    return (first + rest)[:MAX_LABELS]


def incident_blocks(message: Message) -> list[dict[str, Any]]:
    """The incident card: title, summary, severity, status, key labels, links and buttons."""
    emoji = SEVERITY_EMOJI.get(message.severity, ":white_circle:")
    status = message.status
    title = truncate(f"[{message.severity.upper()}] {message.title}", 150)
    summary = f"{emoji} {escape(truncate(message.summary, 2900))}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Severity*\n{escape(message.severity)}"},
                {"type": "mrkdwn", "text": f"*Status*\n{escape(status)}"},
                {"type": "mrkdwn", "text": f"*Rule*\n{escape(message.rule or '-')}"},
                {"type": "mrkdwn", "text": f"*Level*\n{message.level}"},
            ],
        },
    ]
    labels = key_labels(message.labels)
    if labels:
        text = "  ".join(f"`{escape(k)}={escape(truncate(v, 100))}`" for k, v in labels)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    links = []
    if message.alert_url:
        links.append(link(message.alert_url, "Alert source"))
    if message.incident_url:
        links.append(link(message.incident_url, f"Incident {message.incident_id}"))
    else:
        links.append(f"Incident `{escape(message.incident_id)}`")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    who = []
    if message.acknowledged_by:
        who.append(f":eyes: Acknowledged by *{escape(message.acknowledged_by)}*")
    if status == "resolved":
        resolved_by = message.resolved_by
        done = f"Resolved by *{escape(resolved_by)}*" if resolved_by else "Resolved"
        who.append(f":white_check_mark: {done}")
    if who:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "   ".join(who)}]})
    buttons = incident_buttons(message.incident_id, status) + run_buttons(message, status)
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident_actions", "elements": buttons})
    return blocks


def button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        out["style"] = style
    return out


def incident_buttons(incident_id: str, status: str) -> list[dict[str, Any]]:
    """Acknowledge, Resolve, Silence 1h while triggered; no Acknowledge once acked; none once resolved."""
    if status == "resolved":
        return []
    buttons = []
    if status != "acknowledged":
        buttons.append(button("ack", "Acknowledge", incident_id, "primary"))
    buttons.append(button("resolve", "Resolve", incident_id))
    buttons.append(button("silence_1h", "Silence 1h", incident_id))
    return buttons


def run_buttons(message: Message, status: str) -> list[dict[str, Any]]:
    """A Run button for each run waiting for confirmation (``automation: confirm``); its value is the
    run id. None once resolved: a confirmation after that is refused anyway."""
    if status == "resolved":
        return []
    return [
        button("run", truncate(f"Run {c.playbook}", 75), c.run_id, "primary") for c in message.confirmations
    ]


def reply_blocks(message: Message) -> list[dict[str, Any]]:
    """A thread line; a step waiting for approval gets the Approve button."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(truncate(message.text, 2900))}}
    ]
    if message.approval is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "approval",
                "elements": [button("approve", "Approve", message.approval.value, "primary")],
            }
        )
    return blocks
