"""``http.request``: call an admin API, e.g. the seed's ``$ADMIN_API/feature-flags/disable-all``."""

from __future__ import annotations

from typing import Any, Literal

import requests
from pydantic import Field, HttpUrl

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.errors import ActionError


class RequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(description="HTTP method.")
    url: HttpUrl = Field(description="Absolute http(s) URL.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (e.g. Authorization).")
    json_: Any = Field(default=None, alias="json", description="JSON body.")
    expect_status: list[int] | int | None = Field(
        default=None, description="Status code(s) that mean success; default any 2xx."
    )


def _expected(params: RequestParams, status: int) -> bool:
    if params.expect_status is None:
        return 200 <= status < 300
    allowed = params.expect_status if isinstance(params.expect_status, list) else [params.expect_status]
    return status in allowed


def request(params: RequestParams, ctx: ActionContext) -> Outcome:
    url = str(params.url)
    # Headers are never echoed: they usually carry the admin token.
    if ctx.dry_run:
        return Outcome(f"would {params.method} {url}", {"method": params.method, "url": url})
    try:
        response = requests.request(
            params.method, url, headers=params.headers, json=params.json_, timeout=max(ctx.timeout, 1.0)
        )
    except requests.RequestException as exc:
        raise ActionError(f"{params.method} {url} failed: {type(exc).__name__}") from None
    if not _expected(params, response.status_code):
        body = response.text[:500]
        raise ActionError(
            f"{params.method} {url} answered {response.status_code}: {body}",
            retryable=response.status_code == 429 or response.status_code >= 500,
        )
    return Outcome(
        f"{params.method} {url} answered {response.status_code}",
        {"method": params.method, "url": url, "status": response.status_code},
    )


ACTIONS: list[Action[Any]] = [
    Action("http.request", RequestParams, request, "Call an HTTP API and check its status."),
]
