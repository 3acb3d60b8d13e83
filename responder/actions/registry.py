"""The explicit map from action names (as written in playbooks) to actions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from responder.actions import alertmanager, flags, http, kubernetes, notify, ratelimit
from responder.actions.base import Action

ACTIONS: dict[str, Action[Any]] = {
    action.name: action
    for module in (flags, ratelimit, http, notify, alertmanager, kubernetes)
    for action in module.ACTIONS
}

CATALOG: dict[str, type[BaseModel]] = {name: action.params for name, action in ACTIONS.items()}
"""Action name -> params model: what ``responder check`` validates steps against."""


def get(name: str) -> Action[Any] | None:
    return ACTIONS.get(name)
