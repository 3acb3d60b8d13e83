"""The one interface every notification channel has, and the one rule for HTTP results.

A channel turns a :class:`Message` for a team into a delivery. Every channel:

- ``configured()`` returns ``None`` when it has what it needs, else what is missing
  (e.g. ``"SLACK_BOT_TOKEN is not set"``); a send on an unconfigured channel is
  recorded as ``skipped: <what is missing>``, never dropped silently;
- ``send(message, team)`` delivers and returns a :class:`Delivery`, or raises
  :class:`responder.errors.NotifyError` once retries are exhausted.

HTTP results (``check_http_status``): 2xx done; 429 and 5xx are retried with
backoff; anything else fails at once with the response body in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from responder.config.models import Team

Kind = Literal["open", "escalate", "ack", "resolve", "note", "step"]


@dataclass(frozen=True)
class Message:
    """What to tell people about one incident."""

    kind: Kind
    incident: dict[str, Any]
    """The incident record (id, key, rule, severity, status, title, summary, labels...)."""
    text: str
    level: int = 1
    by: str | None = None
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """A delivery that happened; ``ref`` lets later updates thread onto it (Slack ts, Message-ID...)."""

    channel: str
    target: str
    ref: str | None = None


class Channel(Protocol):
    name: str

    def configured(self) -> str | None: ...

    def send(self, message: Message, team: Team) -> Delivery: ...


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed later; every other non-2xx is final."""
    return status == 429 or status >= 500
