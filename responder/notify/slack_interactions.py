"""Slack button clicks: verify and parse them (``POST /slack/interactions``), and answer the clicker.

Slack signs every interaction with the app's signing secret: ``X-Slack-Signature`` is
``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<raw body>``, and ``X-Slack-Request-Timestamp``
must be within five minutes, so a captured request cannot be replayed later; within
those minutes each signature is accepted once (:func:`seen_before`). The body is a form
with one field, ``payload``, holding the JSON of the click.

The Flask view calls :func:`parse_interaction` with the raw body and the headers and
turns :class:`InteractionRejected` into 401 and :class:`InteractionMalformed` into 400;
everything slow happens in a job afterwards (Slack wants an answer within 3 s). That job
(:mod:`responder.incidents.clicks`) uses the two calls back to Slack kept here:
:func:`usergroup_members` (``usergroups.users.list``, for ``access.slack`` lists that name
a user group) and :func:`answer_ephemeral` (the click's ``response_url``, which Slack
documents as the way to answer a block action: a message only the clicker sees).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pydantic_core import from_json
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from responder import ids
from responder.errors import NotifyError, ResponderError
from responder.notify.base import env_value, environ, ssl_context, truncate
from responder.notify.slack import DEFAULT_API_URL, TIMEOUT, SlackChannel

if TYPE_CHECKING:
    from redis import Redis

    from responder.store.keys import Keys

log = logging.getLogger(__name__)

WINDOW = 5 * 60
"""Seconds a signed request stays valid (Slack's recommendation, and slack-sdk's check)."""

ACTIONS = ("ack", "resolve", "silence_1h", "approve", "run")
RUN_ACTIONS = ("approve", "run")
"""Buttons whose value names a playbook run rather than an incident."""
MAX_BODY = 64 * 1024
MAX_VALUE = 2000
"""Slack's own limit on a button's value."""
RESPONSE_HOST = "hooks.slack.com"
"""Where Slack's ``response_url`` points; answers go nowhere else (besides ``SLACK_API_URL``'s host)."""


class InteractionRejected(ResponderError):
    """Raised when a request is not provably from Slack: signature or timestamp missing,
    timestamp outside the 5-minute window, signature wrong, or no signing secret configured.
    The view answers 401 and changes nothing."""


class InteractionMalformed(ResponderError):
    """Raised when a correctly signed request is not a block action this app understands
    (no ``payload`` field, bad JSON, unknown ``action_id``, no user, a value that is not a
    string). The view answers 400. A value that is a string but names no incident or run is
    not malformed: the clicker is told "unknown incident" (docs/operations.md, HTTP API)."""


@dataclass(frozen=True)
class SlackAction:
    """One button click, as the rest of the responder needs it (and as its job carries it)."""

    action_id: str
    """``ack``, ``resolve``, ``silence_1h``, ``approve`` or ``run``."""
    value: str
    """The incident id; for ``approve``, ``<run_id>:<step_index>``; for ``run`` (confirm a run waiting
    for a Run click), the run id. Not yet checked: see the properties."""
    user_id: str
    user_name: str
    team_id: str | None = None
    """The workspace the click came from (``team.id``)."""
    user_team_id: str | None = None
    """The clicking user's own workspace (``user.team_id``): another one for a Slack Connect guest."""
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None

    @property
    def incident_id(self) -> str | None:
        """The incident an ack, resolve or silence click names, when its value is an incident id."""
        return self.value if self.action_id not in RUN_ACTIONS and ids.is_incident_id(self.value) else None

    @property
    def approval(self) -> tuple[str, int] | None:
        """``(run_id, step_index)`` for an Approve click whose value is well formed; for a Run click,
        its run's first step (confirming a run is approving its first step)."""
        if self.action_id == "run":
            return (self.value, 0) if ids.is_run_id(self.value) else None
        return ids.parse_approval(self.value) if self.action_id == "approve" else None

    def to_job(self) -> dict[str, str | None]:
        """The click as a job argument (plain values, so a worker of any version can read it)."""
        return asdict(self)

    @classmethod
    def from_job(cls, data: Mapping[str, Any]) -> SlackAction:
        known: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        return cls(**known)


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


def seen_before(redis: Redis, keys: Keys, signature: str) -> bool:
    """True when this signature was already accepted; else remembers it and returns False.

    A signed body stays valid while its timestamp is within the window on either side of
    now, so it is remembered for twice the window (plus a minute of clock slack).
    """
    fresh = redis.set(keys.slack_signature(signature), 1, nx=True, ex=2 * WINDOW + 60)
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
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise InteractionMalformed(f"action {action_id} has no value of up to {MAX_VALUE} characters")
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user, dict) or not isinstance(user_id, str) or not user_id or len(user_id) > 64:
        raise InteractionMalformed("payload has no user id")
    name = user.get("username") or user.get("name") or user_id
    return SlackAction(
        action_id=action_id,
        value=value,
        user_id=user_id,
        user_name=str(name)[:200],
        team_id=_nested_str(payload, "team", "id"),
        user_team_id=_short(user.get("team_id")),
        channel_id=_nested_str(payload, "channel", "id"),
        message_ts=_nested_str(payload, "container", "message_ts") or _nested_str(payload, "message", "ts"),
        response_url=_short(payload.get("response_url"), 2000),
    )


def _short(value: Any, limit: int = 64) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _nested_str(payload: Mapping[str, Any], outer: str, inner: str) -> str | None:
    value = payload.get(outer)
    return _short(value.get(inner), 200) if isinstance(value, dict) else None


# -- calls back to Slack, from the click's job ----------------------------------------------------------


def usergroup_members(group_id: str, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The user ids in a Slack user group (``usergroups.users.list``; the app needs ``usergroups:read``).

    Raises:
        NotifyError: no bot token, or Slack refused or could not be reached (the message says
            which, never the token).
    """
    channel = SlackChannel.from_env(env)
    missing = channel.configured()
    if missing:
        raise NotifyError(f"cannot read user group {group_id}: {missing}")
    try:
        answer = channel.client.usergroups_users_list(usergroup=group_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise NotifyError(f"usergroups.users.list for {group_id} failed: {error or 'no answer'}") from None
    except (SlackClientError, OSError) as exc:
        raise NotifyError(f"usergroups.users.list for {group_id} failed: {type(exc).__name__}") from None
    users = answer.get("users")
    if not isinstance(users, list):
        raise NotifyError(f"usergroups.users.list for {group_id} answered without a user list")
    return frozenset(u for u in users if isinstance(u, str))


def answer_ephemeral(click: SlackAction, text: str, env: Mapping[str, str] | None = None) -> bool:
    """Tell only the clicker ``text``, through the click's ``response_url``; False when that failed.

    Never raises: the answer is a courtesy, the timeline holds the record. The URL comes in
    the signed payload, and answers go only to Slack's host (or ``SLACK_API_URL``'s host, a
    proxy or a test's fake), so a click can never make the worker post elsewhere.
    """
    env = environ(env)
    url = click.response_url
    if url is None or not _answerable(url, env):
        log.warning("cannot answer Slack user %r (no usable response_url): %r", click.user_id, text)
        return False
    client = WebhookClient(url, timeout=TIMEOUT, ssl=ssl_context(env) if url.startswith("https:") else None)
    try:
        response = client.send(text=text, response_type="ephemeral", replace_original=False)
    except (SlackClientError, OSError) as exc:
        log.warning("answering Slack user %r failed: %s", click.user_id, type(exc).__name__)
        return False
    if response.status_code != 200:
        log.warning(
            "answering Slack user %r failed: HTTP %d %r", click.user_id, response.status_code,
            truncate(response.body or ""),
        )  # fmt: skip
        return False
    return True


def _answerable(url: str, env: Mapping[str, str]) -> bool:
    try:
        parts = urlsplit(url)
        api = urlsplit(env_value(env, "SLACK_API_URL") or DEFAULT_API_URL)
        where = (parts.scheme, parts.hostname, parts.port)  # .port raises on a port out of range
        api_where = (api.scheme, api.hostname, api.port)
    except ValueError:
        return False
    if parts.username or parts.password or parts.hostname is None:
        return False
    return where in (("https", RESPONSE_HOST, None), ("https", RESPONSE_HOST, 443), api_where)
