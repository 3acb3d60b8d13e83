"""Caps on each alert of a webhook request, so one sender cannot fill Redis.

The body limit (``RESPONDER_MAX_BODY_BYTES``) bounds a request; these bound what each
accepted alert costs, since every alert is kept for days (its dedupe key for 7, its
incident for 30) and the group key is stored with every alert of the batch. A request
over any cap is refused whole with 413, naming the cap, before anything is stored.
Each cap is an environment variable of the web process (docs/operations.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from responder.errors import ConfigError, ConfigIssue
from responder.webhook.models import Alert, WebhookPayload


@dataclass(frozen=True)
class Limits:
    """The caps, with their documented defaults."""

    label_bytes: int = 4096
    """``RESPONDER_MAX_LABEL_BYTES``: one label name or value."""
    annotation_bytes: int = 16384
    """``RESPONDER_MAX_ANNOTATION_BYTES``: one annotation name or value."""
    labels: int = 128
    """``RESPONDER_MAX_LABELS``: labels on one alert."""
    alert_bytes: int = 65536
    """``RESPONDER_MAX_ALERT_BYTES``: one alert, all its names, values and fields together."""
    group_key_bytes: int = 4096
    """``RESPONDER_MAX_GROUP_KEY_BYTES``: the payload's ``groupKey`` (stored with every alert)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The caps set in ``env`` (default the process environment), the defaults for the rest.

        Raises:
            ConfigError: a variable that is set is not a whole number of at least 1.
        """
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        issues: list[ConfigIssue] = []
        for field in fields(cls):
            name = ENV_NAMES[field.name]
            raw = env.get(name, "").strip()
            if not raw:
                continue
            if not raw.isdigit() or int(raw) < 1:
                issues.append(
                    ConfigIssue("environment", None, name, f"must be a whole number ≥ 1 (got {raw!r})")
                )
                continue
            values[field.name] = int(raw)
        if issues:
            raise ConfigError(issues)
        return cls(**values)


ENV_NAMES = {
    "label_bytes": "RESPONDER_MAX_LABEL_BYTES",
    "annotation_bytes": "RESPONDER_MAX_ANNOTATION_BYTES",
    "labels": "RESPONDER_MAX_LABELS",
    "alert_bytes": "RESPONDER_MAX_ALERT_BYTES",
    "group_key_bytes": "RESPONDER_MAX_GROUP_KEY_BYTES",
}


@dataclass(frozen=True)
class OverCap:
    """Where a request exceeds a cap; becomes the 413 answer. It never repeats the sender's text."""

    where: str
    """``groupKey`` or ``alerts[3].labels``."""
    size: int
    cap: str
    """The field of :class:`Limits` that was exceeded."""
    limit: int
    unit: str

    @property
    def env(self) -> str:
        return ENV_NAMES[self.cap]

    def message(self) -> str:
        return (
            f"{self.where}: {self.size} {self.unit}, over the cap of {self.limit} ({self.env}); "
            "nothing was accepted"
        )


def over_cap(payload: WebhookPayload, limits: Limits, body_bytes: int | None = None) -> OverCap | None:
    """The first cap ``payload`` exceeds, or None when every alert is within them.

    ``body_bytes``, the size of the JSON body the payload was parsed from, bounds every byte
    count: a string takes at least as many bytes in JSON (quoted, maybe escaped) as in UTF-8,
    and an alert's strings are distinct parts of the body. A cap at or above it cannot be exceeded.
    """
    size = _bytes(payload.groupKey)
    if size > limits.group_key_bytes:
        return OverCap("groupKey", size, "group_key_bytes", limits.group_key_bytes, "bytes")
    bound = body_bytes if body_bytes is not None else limits.alert_bytes + 1
    for index, alert in enumerate(payload.alerts):
        found = _alert_over_cap(alert, limits, f"alerts[{index}]", bound)
        if found is not None:
            return found
    return None


def _alert_over_cap(alert: Alert, limits: Limits, where: str, bound: int) -> OverCap | None:
    if len(alert.labels) > limits.labels:
        return OverCap(f"{where}.labels", len(alert.labels), "labels", limits.labels, "labels")
    if _surely_within(alert, limits, bound):
        return None
    for name, mapping, cap in (
        ("labels", alert.labels, "label_bytes"),
        ("annotations", alert.annotations, "annotation_bytes"),
    ):
        limit = getattr(limits, cap)
        largest = max(_sizes(mapping.items()), default=0)
        if largest > limit:
            return OverCap(f"{where}.{name}", largest, cap, limit, "bytes in one name or value")
    total = sum(_sizes(alert.labels.items())) + sum(_sizes(alert.annotations.items()))
    total += sum(
        _bytes(v) for v in (alert.status, alert.startsAt, alert.endsAt, alert.generatorURL, alert.fingerprint)
    )
    if total > limits.alert_bytes:
        return OverCap(where, total, "alert_bytes", limits.alert_bytes, "bytes")
    return None


def _surely_within(alert: Alert, limits: Limits, bound: int) -> bool:
    """True when ``alert`` is within every byte cap by cheap bounds alone: ``bound`` (no count can
    exceed it), or four times a length in characters (a character is at most 4 bytes of UTF-8).

    Counting characters runs in C (``map(len, ...)``), where encoding every string to count its
    bytes was a Python loop per string, most of the cost of checking a typical alert.
    """
    labels, annotations = alert.labels, alert.annotations
    if bound > limits.label_bytes:
        chars = max(max(map(len, labels), default=0), max(map(len, labels.values()), default=0))
        if 4 * chars > limits.label_bytes:
            return False
    if bound > limits.annotation_bytes:
        chars = max(max(map(len, annotations), default=0), max(map(len, annotations.values()), default=0))
        if 4 * chars > limits.annotation_bytes:
            return False
    if bound > limits.alert_bytes:
        total = sum(map(len, labels)) + sum(map(len, labels.values()))
        total += sum(map(len, annotations)) + sum(map(len, annotations.values()))
        total += len(alert.status) + len(alert.startsAt) + len(alert.endsAt) + len(alert.generatorURL)
        if 4 * (total + len(alert.fingerprint)) > limits.alert_bytes:
            return False
    return True


def _sizes(items: Iterable[tuple[str, str]]) -> Iterable[int]:
    for key, value in items:
        yield _bytes(key)
        yield _bytes(value)


def _bytes(text: str) -> int:
    # pydantic refuses escaped lone surrogates, so every string here encodes; "surrogatepass" only
    # makes sure counting can never be the thing that raises.
    return len(text.encode("utf-8", "surrogatepass"))
