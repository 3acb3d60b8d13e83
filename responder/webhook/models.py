"""Alertmanager's webhook payload, version 4 (alertmanager/notify/webhook)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Alert(BaseModel):
    # Alertmanager may add fields in later releases; ignore them rather than reject its posts.
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=128)

    @field_validator("startsAt")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("startsAt must be an RFC 3339 timestamp") from None
        return value


def alert_json(alert: Alert) -> bytes:
    """``alert`` as compact JSON, by pydantic-core's serializer directly (``model_dump_json``'s Python
    wrapper cost more than the serialising itself)."""
    return Alert.__pydantic_serializer__.to_json(alert)


MAX_TRUNCATED = 1_000_000_000
"""More alerts than any Alertmanager group holds; the bound keeps the truncation counter an int64."""


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int = Field(default=0, ge=0, le=MAX_TRUNCATED)
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert]
