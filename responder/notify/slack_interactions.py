"""Verify and parse Slack button clicks (``POST /slack/interactions``).

Slack signs every interaction with the app's signing secret: ``X-Slack-Signature`` is
``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<raw body>``, and ``X-Slack-Request-Timestamp``
must be within five minutes, so a captured request cannot be replayed later; within
those minutes each signature is accepted once (:func:`seen_before`). The body is a form
with one field, ``payload``, holding the JSON of the click.

The Flask view calls :func:`parse_interaction` with the raw body and the headers and
turns :class:`InteractionRejected` into 401 and :class:`InteractionMalformed` into 400;
everything slow happens in a job afterwards (Slack wants an answer within 3 s).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic_core import from_json

from responder.errors import ResponderError

if TYPE_CHECKING:
    from redis import Redis

WINDOW = 5 * 60
"""Seconds a signed request stays valid (Slack's recommendation, and slack-sdk's check)."""

ACTIONS = ("ack", "resolve", "silence_1h", "approve")
MAX_BODY = 64 * 1024
_INCIDENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_APPROVAL = re.compile(r"^(?P<run>[A-Za-z0-9_.-]{1,200}):(?P<step>\d{1,6})$")


class InteractionRejected(ResponderError):
    """Raised when a request is not provably from Slack: signature or timestamp missing,
    timestamp outside the 5-minute window, signature wrong, or no signing secret configured.
    The view answers 401 and changes nothing."""


class InteractionMalformed(ResponderError):
    """Raised when a correctly signed request is not a block action this app understands
    (no ``payload`` field, bad JSON, unknown ``action_id``, bad value). The view answers 400."""


@dataclass(frozen=True)
class SlackAction:
    """One button click, as the rest of the responder needs it."""

    action_id: str
    """``ack``, ``resolve``, ``silence_1h`` or ``approve``."""
    value: str
    """The incident id; for ``approve``, ``<run_id>:<step_index>``."""
    user_id: str
    user_name: str
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None

    @property
    def incident_id(self) -> str | None:
        return None if self.action_id == "approve" else self.value

    @property
    def approval(self) -> tuple[str, int] | None:
        """``(run_id, step_index)`` for an Approve click."""
        match = _APPROVAL.fullmatch(self.value) if self.action_id == "approve" else None
        return (match["run"], int(match["step"])) if match else None


def configured(env: Mapping[str, str] | None = None) -> str | None:
    """``None`` when clicks can be verified, else what is missing (for ``/ready`` and ``responder check``)."""
    env = os.environ if env is None else env
    return None if env.get("SLACK_SIGNING_SECRET", "").strip() else "SLACK_SIGNING_SECRET is not set"


def verify(
    body: bytes,
    headers: Mapping[str, str],
    signing_secret: str | None,
    *,
    now: Callable[[], float] = time.time,
) -> str:
    """Raises :class:`InteractionRejected` unless Slack signed ``body`` within the last 5 minutes.

    Returns the signature, so the caller can accept each signed body once.

    The HMAC is computed over the raw bytes here rather than with slack-sdk's
    ``SignatureVerifier``, which decodes the body as UTF-8 first: any byte sequence a
    stranger sends must be answered 401, not crash the check.
    """
    if not signing_secret:
        raise InteractionRejected("SLACK_SIGNING_SECRET is not set; Slack interactions cannot be verified")
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp")
    signature = lowered.get("x-slack-signature")
    if not timestamp or not signature:
        raise InteractionRejected("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    # ASCII digits only: int() would also take other scripts' digits, and a signature is over bytes.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise InteractionRejected("X-Slack-Request-Timestamp is not a Unix time")
    if abs(now() - int(timestamp)) > WINDOW:
        raise InteractionRejected("request timestamp is more than 5 minutes away; refusing a possible replay")
    digest = hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    expected = f"v0={digest.hexdigest()}".encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        raise InteractionRejected("signature does not match; check SLACK_SIGNING_SECRET")
    return signature


def seen_before(redis: Redis, prefix: str, signature: str) -> bool:
    """True when this signature was already accepted; else remembers it and returns False.

    A signed body stays valid while its timestamp is within the window on either side of
    now, so it is remembered for twice the window (plus a minute of clock slack).
    """
    fresh = redis.set(f"{prefix}:slack:signature:{signature}", 1, nx=True, ex=2 * WINDOW + 60)
    return not fresh


def parse_interaction(
    body: bytes,
    headers: Mapping[str, str],
    signing_secret: str | None,
    *,
    now: Callable[[], float] = time.time,
) -> SlackAction:
    """Verify, then parse the ``payload`` form field into a :class:`SlackAction`.

    Raises :class:`InteractionRejected` (401) before looking at the body, then
    :class:`InteractionMalformed` (400) if the signed body is not a click we know.
    """
    if len(body) > MAX_BODY:
        raise InteractionMalformed(f"body is larger than {MAX_BODY} bytes")
    verify(body, headers, signing_secret, now=now)
    return parse_payload(body)


def parse_payload(body: bytes) -> SlackAction:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InteractionMalformed("body is not UTF-8") from None
    fields = form.get("payload", [])
    if len(fields) != 1:
        raise InteractionMalformed("expected exactly one form field named payload")
    try:
        # pydantic's parser, not json.loads: it refuses deep nesting and huge numbers with a
        # ValueError, where json.loads raises RecursionError or other ValueErrors mid-parse.
        payload = from_json(fields[0])
    except ValueError:
        raise InteractionMalformed("payload is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise InteractionMalformed(f"unsupported interaction type {kind!r}; only block_actions are handled")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise InteractionMalformed("payload has no actions")
    action = actions[0]
    action_id = action.get("action_id")
    if action_id not in ACTIONS:
        raise InteractionMalformed(f"unknown action_id {action_id!r}; expected one of {', '.join(ACTIONS)}")
    value = action.get("value")
    pattern = _APPROVAL if action_id == "approve" else _INCIDENT_ID
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InteractionMalformed(f"action {action_id} has an invalid value")
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise InteractionMalformed("payload has no user id")
    name = user.get("username") or user.get("name") or user["id"]
    return SlackAction(
        action_id=action_id,
        value=value,
        user_id=user["id"],
        user_name=str(name),
        channel_id=_nested_str(payload, "channel", "id"),
        message_ts=_nested_str(payload, "container", "message_ts") or _nested_str(payload, "message", "ts"),
        response_url=payload.get("response_url") if isinstance(payload.get("response_url"), str) else None,
    )


def _nested_str(payload: Mapping[str, Any], outer: str, inner: str) -> str | None:
    value = payload.get(outer)
    if isinstance(value, dict) and isinstance(value.get(inner), str):
        return str(value[inner])
    return None
