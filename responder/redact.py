"""Keep secrets out of the timeline, logs and errors.

Every environment variable whose name says it is a secret (TOKEN, SECRET, PASSWORD,
KEY...) has its value replaced by ``***`` wherever it appears in text we record.
"""

from __future__ import annotations

import os
import re
from typing import Any

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ROUTING_KEY|PRIVATE|CREDENTIAL", re.IGNORECASE
)
MASK = "***"


def secret_values() -> list[str]:
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(values, key=len, reverse=True)


def redact(value: Any) -> Any:
    secrets = secret_values()
    if not secrets:
        return value
    return _redact(value, secrets)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    return value
