"""``http.request``: call an admin API, e.g. the seed's ``$ADMIN_API/feature-flags/disable-all``.

Only hosts in ``http.allowed_hosts`` are called (checked on the rendered URL, before
anything is sent), redirects are never followed (a 3xx is the answer, and would otherwise
carry the step's secret headers to another host), and what is recorded of the answer is
its status, size and SHA-256: never the body or the headers, which may echo a token.
"""

from __future__ import annotations

import hashlib
import os
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal

import requests
from pydantic import Field, HttpUrl

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.config import hosts
from responder.errors import ActionError, ActionRefused

READ_LIMIT = 16 * 1024 * 1024
"""Bytes of an answer read to measure and hash it; beyond this the size is reported as over it."""

_session: tuple[int, requests.Session] | None = None


def _pooled() -> requests.Session:
    """This process's session, so that steps calling the same API reuse its connections (a new
    connection per call was a fifth of a worker's time in a storm). It keeps no cookies: one
    answer's cookie must not ride along on the next step's request. Made again after a fork."""
    global _session
    if _session is None or _session[0] != os.getpid():
        session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _session = (os.getpid(), session)
    return _session[1]


class RequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(description="HTTP method.")
    url: HttpUrl = Field(description="Absolute http(s) URL; its host must be in http.allowed_hosts.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; values may use {{ secret.NAME }} (e.g. Authorization).",
    )
    json_: Any = Field(default=None, alias="json", description="JSON body.")
    expect_status: list[int] | int | None = Field(
        default=None, description="Status code(s) that mean success; default any 2xx."
    )


def _expected(params: RequestParams, status: int) -> bool:
    if params.expect_status is None:
        return 200 <= status < 300
    allowed = params.expect_status if isinstance(params.expect_status, list) else [params.expect_status]
    return status in allowed


def check_url(url: str, allowed_hosts: list[str]) -> None:
    """Raises ActionRefused unless ``url`` is an http(s) URL to a host in ``allowed_hosts``."""
    target = hosts.url_host(url)
    if target is None:
        raise ActionRefused(
            "refused: the url is not an absolute http(s) URL without credentials (put credentials in a "
            "header with {{ secret.NAME }}); nothing was sent"
        )
    host, port = target
    if not hosts.allowed(allowed_hosts, host, port):
        listed = ", ".join(allowed_hosts) if allowed_hosts else "none"
        shown = f"[{host}]" if ":" in host else host
        raise ActionRefused(
            f"refused: host {shown}:{port} is not in http.allowed_hosts ({listed}); add it in "
            "responder.yaml to allow calls there; nothing was sent"
        )


def _measure(response: requests.Response) -> tuple[str, str]:
    """The body's size (``"123"``, or ``"over 16777216"``) and SHA-256, read in chunks and dropped."""
    digest = hashlib.sha256()
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        digest.update(chunk)
        if size > READ_LIMIT:
            return f"over {READ_LIMIT}", digest.hexdigest()
    return str(size), digest.hexdigest()


def request(params: RequestParams, ctx: ActionContext) -> Outcome:
    url = str(params.url)
    check_url(url, ctx.config.responder.http.allowed_hosts)
    # Headers are never echoed: they carry the admin token.
    if ctx.dry_run:
        return Outcome(f"would {params.method} {url}", {"method": params.method, "url": url})
    try:
        response = _pooled().request(
            params.method,
            url,
            headers=params.headers,
            json=params.json_,
            timeout=max(ctx.timeout, 1.0),
            allow_redirects=False,
            stream=True,
        )
        with response:
            size, sha256 = _measure(response)
    except (requests.RequestException, ValueError) as exc:
        # The type only: an exception's text can quote a header value.
        raise ActionError(f"{params.method} {url} failed: {type(exc).__name__}") from None
    status = response.status_code
    answer = f"{params.method} {url} answered {status} ({size} bytes, sha256 {sha256})"
    if not _expected(params, status):
        hint = (
            "; redirects are not followed: call the final URL, or list the status in expect_status"
            if 300 <= status < 400
            else ""
        )
        raise ActionError(f"{answer}{hint}", retryable=status == 429 or status >= 500)
    return Outcome(
        answer,
        {"method": params.method, "url": url, "status": status, "bytes": size, "sha256": sha256},
    )


ACTIONS: list[Action[Any]] = [
    Action("http.request", RequestParams, request, "Call an HTTP API and check its status."),
]
