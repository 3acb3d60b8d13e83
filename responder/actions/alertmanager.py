"""``alertmanager.silence``: silence an incident's alerts through Alertmanager's v2 API.

:func:`silence` is the API call, used by the action and by the "Silence 1h" button
(:mod:`responder.incidents.silencing`). The silence matches the alert's labels exactly
unless the step gives its own ``matchers``, runs from now for ``duration`` and is created
by ``alert-responder``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pydantic import Field, field_validator

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.config.durations import Duration, format_duration
from responder.errors import ActionError, MatcherError
from responder.notify.base import is_retryable_status, truncate
from responder.routing.matchers import Matcher, MatchType, parse_matcher

CREATED_BY = "alert-responder"
TIMEOUT = 10.0
"""Seconds to wait for Alertmanager; a silence is one small POST."""


class SilenceParams(Params):
    duration: Duration = Field(description="How long the silence lasts, e.g. 1h.")
    matchers: list[str] | dict[str, str] | None = Field(
        default=None,
        description='Matchers such as `alertname="X"` or `env=~"prod|staging"`, or a label map '
        "matched exactly; default: every label of the alert, matched exactly.",
    )
    comment: str | None = Field(default=None, description="Why; default names the incident.")

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a silence needs a duration above zero")
        return value

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: list[str] | dict[str, str] | None) -> list[str] | dict[str, str] | None:
        if isinstance(value, list):
            for text in value:
                try:
                    parse_matcher(text)
                except MatcherError as exc:
                    raise ValueError(str(exc)) from None
        return value


def api_matchers(
    given: Sequence[str] | Mapping[str, str] | None, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Matchers in the v2 API's shape; ``given`` None means ``labels``, matched exactly."""
    if given is None or isinstance(given, Mapping):
        source = labels if given is None else given
        parsed = [Matcher(str(name), MatchType.EQ, str(value)) for name, value in sorted(source.items())]
    else:
        parsed = [parse_matcher(text) for text in given]
    return [
        {
            "name": m.name,
            "value": m.value,
            "isRegex": m.type in (MatchType.RE, MatchType.NRE),
            "isEqual": m.type in (MatchType.EQ, MatchType.RE),
        }
        for m in parsed
    ]


def alertmanager_url(env: Mapping[str, str] | None = None) -> str:
    """``$ALERTMANAGER_URL`` without a trailing slash.

    Raises:
        ActionError: it is not set (not retried: setting it needs a restart).
    """
    url = (os.environ if env is None else env).get("ALERTMANAGER_URL", "").strip()
    if not url:
        raise ActionError(
            "ALERTMANAGER_URL is not set: point it at Alertmanager, e.g. http://alertmanager:9093",
            retryable=False,
        )
    return url.rstrip("/")


def silence(
    matchers: list[dict[str, Any]],
    duration: float,
    comment: str,
    *,
    url: str | None = None,
    now: datetime | None = None,
    timeout: float = TIMEOUT,
) -> str:
    """Create a silence and return its id.

    Raises:
        ActionError: no matchers, Alertmanager unreachable, or a non-2xx answer (429 and 5xx
            retryable, anything else final, with Alertmanager's answer in the message).
    """
    if not matchers:
        raise ActionError("a silence needs at least one matcher; the alert has no labels", retryable=False)
    base = url or alertmanager_url()
    starts = now or datetime.now(UTC)
    body = {
        "matchers": matchers,
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": (starts + timedelta(seconds=duration)).isoformat().replace("+00:00", "Z"),
        "createdBy": CREATED_BY,
        "comment": comment,
    }
    target = f"{base}/api/v2/silences"
    try:
        response = requests.post(target, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise ActionError(f"POST {target} failed: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise ActionError(
            f"POST {target} answered {response.status_code}: {truncate(response.text)}",
            retryable=is_retryable_status(response.status_code),
        )
    try:
        silence_id = response.json()["silenceID"]
    except (ValueError, KeyError, TypeError):
        raise ActionError(f"POST {target} answered without a silenceID: {truncate(response.text)}") from None
    return str(silence_id)


def still_firing(
    fingerprints: Collection[str],
    names: Collection[str] = (),
    *,
    url: str | None = None,
    timeout: float = TIMEOUT,
) -> set[str]:
    """Which of ``fingerprints`` Alertmanager still holds as alerts (silenced and inhibited ones
    included: they still fire). Its v2 API lists only alerts that have not resolved.

    ``names``: the alerts' ``alertname`` values; one name is sent as a filter, so a busy
    Alertmanager answers with that alert's instances rather than with everything it holds.

    Raises:
        ActionError: ``ALERTMANAGER_URL`` not set, Alertmanager unreachable, a non-2xx answer, or
            an answer that is not a list of alerts (the message says which, with its answer).
    """
    base = url or alertmanager_url()
    target = f"{base}/api/v2/alerts"
    params: dict[str, str] = {}
    distinct = set(names)
    if len(distinct) == 1:
        name = next(iter(distinct))
        params["filter"] = 'alertname="{}"'.format(name.replace("\\", "\\\\").replace('"', '\\"'))
    try:
        response = requests.get(target, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise ActionError(f"GET {target} failed: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise ActionError(f"GET {target} answered {response.status_code}: {truncate(response.text)}")
    try:
        alerts = response.json()
    except ValueError:
        alerts = None
    if not isinstance(alerts, list):
        raise ActionError(
            f"GET {target} answered with something else than a list of alerts: {truncate(response.text)}"
        )
    held = {a.get("fingerprint") for a in alerts if isinstance(a, dict)}
    return {fp for fp in fingerprints if fp in held}


def describe(matchers: list[dict[str, Any]]) -> str:
    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return ", ".join(f'{m["name"]}{ops[(m["isRegex"], m["isEqual"])]}"{m["value"]}"' for m in matchers)


def silence_action(params: SilenceParams, ctx: ActionContext) -> Outcome:
    labels = ctx.alert.labels or ctx.incident.labels
    matchers = api_matchers(params.matchers, labels)
    length = format_duration(params.duration)
    comment = params.comment or f"alert-responder incident {ctx.incident.id}"
    details: dict[str, Any] = {"matchers": matchers, "duration": length, "comment": comment}
    if ctx.dry_run:
        return Outcome(f"would silence {describe(matchers)} for {length}", details)
    silence_id = silence(matchers, params.duration, comment, timeout=max(min(ctx.timeout, 30.0), 1.0))
    return Outcome(
        f"silenced {describe(matchers)} for {length} (silence {silence_id})",
        {**details, "silence_id": silence_id},
    )


ACTIONS: list[Action[Any]] = [
    Action("alertmanager.silence", SilenceParams, silence_action, "Silence the alert in Alertmanager."),
]
