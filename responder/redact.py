"""Keep secrets out of the timeline, logs, messages and errors.

Redaction is by value: the caller passes the secret values it actually used (for a step,
``RenderedParams.secrets`` from :func:`responder.playbooks.templating.render_step_params`),
and every occurrence of each is replaced by ``***`` in whatever text is about to be
recorded or sent. Guessing secrets from variable names missed any secret not named like
one, and masked values that were not secrets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_LENGTH = 4
"""Shorter values are not redacted: masking every "1" or "on" would garble messages, and a
secret that short protects nothing (the same rule as :func:`responder.notify.base.redact`)."""


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every secret replaced by ``***``, in every string inside dicts, lists and tuples."""
    ordered = sorted(
        {s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH}, key=len, reverse=True
    )
    if not ordered:
        return value
    return _redact(value, ordered)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {_redact(k, secrets): _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    return value
