"""The one interface every notification channel has, and the one rule for results.

A channel turns a :class:`Message` for a team into a delivery. Every channel:

- ``configured()`` returns ``None`` when it has what it needs, else what is missing
  (e.g. ``"SLACK_BOT_TOKEN is not set"``); a send on an unconfigured channel is
  recorded as ``skipped: <what is missing>``, never dropped silently;
- ``target(team, config)`` names where that team is reached on this channel (a Slack
  channel, the email addresses, the team for PagerDuty), or ``None`` when the team has
  no address there;
- ``send(message, team, config, ref)`` delivers and returns a :class:`Delivery`, or
  raises :class:`responder.errors.NotifyError` once retries are exhausted. ``ref`` is
  what the first delivery of this incident to this target returned (Slack
  ``channel:ts``, the first email's Message-ID, the PagerDuty dedup key), so updates
  edit, thread or reply onto it. ``None`` means nothing was delivered there yet.

Results, the same for every channel: 2xx is done; 5xx (SMTP: 4xx and dropped
connections) are retried with backoff; 429 raises :class:`responder.errors.RateLimited`
with the server's ``Retry-After``, and the delivery is re-enqueued for then
(:mod:`responder.notify.pending`) instead of a worker sleeping; anything else fails at
once with the server's answer in the message. No secret (token, routing key, password) is ever part of an
error, a log line or a returned text: channels pass their secrets through
:func:`redact` before anything leaves them.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

from responder import ids
from responder.config.models import Team
from responder.errors import NotifyError
from responder.store.records import Incident

Kind = Literal["open", "escalate", "ack", "resolve", "note", "step"]

UPDATE_KINDS: tuple[Kind, ...] = ("ack", "resolve")
"""Kinds that change something already delivered; with nothing delivered there is nothing to update."""

REACHED = ("sent", "deferred", "queued")
"""Delivery statuses that reach (or will within seconds reach) a person: sent, or held back by a rate
limit and sent in order once it lifts. ``skipped`` and ``failed`` reach nobody."""

BODY_LIMIT = 500
"""How much of a server's answer goes into an error message."""

REDACTED = "***"
"""What a secret is replaced with (the same mask as :mod:`responder.redact`)."""


@dataclass(frozen=True)
class Approval:
    """A playbook run waiting for someone to click Approve (a ``requires_approval`` step)."""

    run_id: str
    step_index: int

    @property
    def value(self) -> str:
        """The Approve button's value: ``<run_id>:<step_index>``."""
        return f"{self.run_id}:{self.step_index}"

    @classmethod
    def parse(cls, value: str) -> Approval | None:
        """The approval a button value names, or None when it is not one."""
        parsed = ids.parse_approval(value)
        return cls(*parsed) if parsed else None


@dataclass(frozen=True)
class Confirmation:
    """A playbook run waiting for a Run click before its first step (``automation: confirm``)."""

    run_id: str
    playbook: str


@dataclass(frozen=True)
class Message:
    """What to tell people about one incident."""

    kind: Kind
    incident: Incident
    text: str
    """What happened, in one line: shown in thread replies, email bodies and PagerDuty summaries."""
    level: int = 1
    by: str | None = None
    """Who acknowledged or resolved, for ``ack`` and ``resolve``."""
    incident_url: str | None = None
    """Where people open the incident (from ``public_url``)."""
    approval: Approval | None = None
    """Set on a note for a step that ``requires_approval``: Slack shows an Approve button."""
    confirmations: tuple[Confirmation, ...] = ()
    """Runs of the incident waiting for a Run click: the Slack card shows a Run button for each."""

    @property
    def incident_id(self) -> str:
        return self.incident.id

    @property
    def severity(self) -> str:
        return self.incident.severity

    @property
    def status(self) -> str:
        if self.kind == "resolve":
            return "resolved"
        if self.kind == "ack":
            return "acknowledged"
        return self.incident.status.value

    @property
    def rule(self) -> str:
        return self.incident.rule

    @property
    def labels(self) -> dict[str, str]:
        return self.incident.labels

    @property
    def annotations(self) -> dict[str, str]:
        return self.incident.annotations

    @property
    def title(self) -> str:
        return self.incident.title or self.rule or self.incident_id

    @property
    def summary(self) -> str:
        return self.incident.summary or self.title

    @property
    def alert_url(self) -> str | None:
        return self.incident.generator_url or None

    @property
    def acknowledged_by(self) -> str | None:
        if self.kind == "ack" and self.by:
            return self.by
        return self.incident.acknowledged_by

    @property
    def resolved_by(self) -> str | None:
        if self.kind == "resolve" and self.by:
            return self.by
        return self.incident.resolved_by


@dataclass(frozen=True)
class Delivery:
    """What a send did. ``ref`` lets later updates thread onto it (Slack ``channel:ts``, Message-ID...).

    ``status`` is ``"skipped"`` when the channel deliberately did nothing (``detail`` says
    why, e.g. PagerDuty has no notes); it is never used to hide a failure.
    """

    channel: str
    target: str
    ref: str | None = None
    status: Literal["sent", "skipped"] = "sent"
    detail: str = ""


class Channel(Protocol):
    name: str

    def configured(self) -> str | None: ...

    def secrets(self) -> list[str]:
        """The credentials this channel holds, so callers can redact them too."""
        ...

    def target(self, team: str, config: Team) -> str | None: ...

    def send(self, message: Message, team: str, config: Team, ref: str | None) -> Delivery: ...


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a channel retries a transient failure.

    ``attempts`` counts every try, the first included; waits double from ``backoff``
    up to ``max_wait`` seconds.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)

    def waits(self) -> Iterator[float]:
        """The wait before each retry."""
        for n in range(self.retries):
            yield min(self.backoff * (2**n), self.max_wait)


DEFAULT_RETRY_AFTER = 5.0
"""Seconds to wait after a 429 that did not say how long (PagerDuty's Events API does not)."""
MAX_RETRY_AFTER = 900.0
"""The longest wait honoured; a service asking for more is asked again then."""


def retry_after(headers: Mapping[str, Any] | None, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds a 429's ``Retry-After`` header asks for (delta-seconds; an HTTP date counts from now),
    between 1 s and :data:`MAX_RETRY_AFTER`; ``default`` when it is absent or unreadable."""
    value = next((v for k, v in (headers or {}).items() if str(k).lower() == "retry-after"), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    seconds = default
    if value is not None:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = default
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed later; every other non-2xx is final."""
    return status == 429 or status >= 500


def http_failure(where: str, status: int, body: str, secrets: Iterable[str] = ()) -> NotifyError:
    """The error for a final non-2xx answer: status, whether retries were spent, and the body."""
    hint = " (still failing after retries)" if is_retryable_status(status) else ""
    return NotifyError(f"{where}: HTTP {status}{hint}: {redact(truncate(body), secrets)}")


def truncate(text: str, limit: int = BODY_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text``; secrets shorter than 4 characters are too short to be real."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable, with empty or blank counting as unset."""
    value = env.get(name, "").strip()
    return value or None


def environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def ssl_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """A verifying TLS context that honours ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` from ``env``."""
    cafile = env_value(env, "SSL_CERT_FILE")
    capath = env_value(env, "SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    return ssl.create_default_context()
