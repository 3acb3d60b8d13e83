"""A fake Slack on loopback: the Web API (``chat.postMessage``, ``chat.update``,
``usergroups.users.list``) and the ``response_url`` hooks Slack puts in button clicks.

It keeps the messages it was sent (cards and thread replies), checks the bot token,
answers unknown channels with ``{"ok": false, "error": "channel_not_found"}`` as Slack
does, serves the members of the user groups a test declares (:attr:`FakeSlack.usergroups`),
takes the answers posted to a click's ``response_url`` (:meth:`FakeSlack.response_url`,
:meth:`FakeSlack.responses`), records every request as it arrived, and can be told to
answer the next requests with something else (a 429 with ``Retry-After``, a 400, a 500).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    content_type: str
    authorization: str | None
    body: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)

    @property
    def api_method(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    replies: list[SlackMessage] = field(default_factory=list)
    edits: int = 0

    def action_ids(self) -> list[str]:
        return [
            element["action_id"]
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block["elements"]
        ]


class FakeSlack:
    """Start with :meth:`start`; point ``SLACK_API_URL`` at :attr:`api_url`."""

    def __init__(self, token: str, channels: list[str]) -> None:
        self.token = token
        self.channel_ids = {name: f"C{n:08d}" for n, name in enumerate(channels, start=1)}
        self.requests: list[RecordedRequest] = []
        self.messages: dict[tuple[str, str], SlackMessage] = {}
        self.usergroups: dict[str, list[str]] = {}
        """User-group id -> member user ids, served by ``usergroups.users.list``."""
        self._scripted: deque[tuple[int, dict[str, Any] | str, dict[str, str]]] = deque()
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    # --- control ------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    def reset(self) -> None:
        """Forget every request, message and scripted answer (between tests sharing the server)."""
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.usergroups.clear()
            self._scripted.clear()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/api/"

    def answer_next(
        self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        """The next request gets this answer instead of being handled (queued, first in first out)."""
        self._scripted.append((status, body, headers or {}))

    def response_url(self, click: str = "1") -> str:
        """A ``response_url`` as Slack puts in a click (``https://hooks.slack.com/actions/...``), here."""
        return f"http://127.0.0.1:{self.server.port}/actions/T0123ABCD/{click}/hooktoken"

    def rate_limit_next(self, retry_after: int = 1) -> None:
        self.answer_next(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})

    # --- what happened ------------------------------------------------------------------------

    def calls(self, api_method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.api_method == api_method]

    def responses(self) -> list[RecordedRequest]:
        """What was posted to click ``response_url``s (answers only the clicker sees), in order."""
        return [r for r in self.requests if r.path.startswith("/actions/")]

    def cards(self, channel: str) -> list[SlackMessage]:
        """Top-level messages in ``channel`` (a name like ``#ops`` or an id)."""
        cid = self.channel_ids.get(channel, channel)
        return [m for m in self.messages.values() if m.channel == cid and m.thread_ts is None]

    # --- the API ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        content_type = request.headers.get("Content-Type", "")
        raw = request.get_data(as_text=True)
        if content_type.startswith("application/json"):
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        query = dict(request.args.items())
        auth = request.headers.get("Authorization")
        with self._lock:
            recorded = RecordedRequest(request.method, request.path, content_type, auth, body, query)
            self.requests.append(recorded)
            if self._scripted:
                status, answer, headers = self._scripted.popleft()
                return _json(answer, status, headers)
            if request.path.startswith("/actions/"):
                # A response_url needs no token: it is itself the secret. Slack answers "ok".
                return Response("ok", status=200, content_type="text/plain")
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _json({"ok": False, "error": "invalid_auth"})
            method = request.path.rsplit("/", 1)[-1]
            if method == "chat.postMessage":
                return _json(self._post(body))
            if method == "chat.update":
                return _json(self._update(body))
            if method == "usergroups.users.list":
                members = self.usergroups.get(query.get("usergroup") or body.get("usergroup", ""))
                if members is None:
                    return _json({"ok": False, "error": "no_such_subteam"})
                return _json({"ok": True, "users": members})
            return _json({"ok": False, "error": "unknown_method"}, 404)

    def _resolve(self, channel: str | None) -> str | None:
        if channel in self.channel_ids.values():
            return channel
        return self.channel_ids.get(channel or "")

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = self._resolve(body.get("channel"))
        if cid is None:
            return {"ok": False, "error": "channel_not_found"}
        n = next(self._ts)
        ts = f"{1700000000 + n}.{n:06d}"
        message = SlackMessage(cid, ts, body.get("text", ""), body.get("blocks", []), body.get("thread_ts"))
        if message.thread_ts is not None:
            parent = self.messages.get((cid, message.thread_ts))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            parent.replies.append(message)
        self.messages[(cid, ts)] = message
        return {"ok": True, "channel": cid, "ts": ts, "message": {"text": message.text, "ts": ts}}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        cid = str(body.get("channel", ""))
        if cid not in self.channel_ids.values():
            # chat.update takes a channel id, never a name.
            return {"ok": False, "error": "channel_not_found"}
        message = self.messages.get((cid, body.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text = body.get("text", message.text)
        message.blocks = body.get("blocks", message.blocks)
        message.edits += 1
        return {"ok": True, "channel": cid, "ts": message.ts, "text": message.text}


def _json(body: dict[str, Any] | str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(
        text, status=status, headers=headers or {}, content_type="application/json; charset=utf-8"
    )


# --- what Slack sends the responder: signed button clicks ---------------------------------------


def sign(body: bytes, secret: str, at: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``: its signature with the app's signing secret."""
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click_body(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0ALICE",
    user: str = "alice.oncall",
    team_id: str | None = "T0123ABCD",
    user_team_id: str | None = None,
    response_url: str | None = None,
) -> bytes:
    """A block_actions payload as Slack posts it when ``user`` clicks a button (form-encoded)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user, "name": user, "team_id": user_team_id or team_id},
        "channel": {"id": "C00000001"},
        "container": {"type": "message", "message_ts": "1700000001.000001"},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    if team_id is not None:
        payload["team"] = {"id": team_id, "domain": "example"}
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)}).encode()
