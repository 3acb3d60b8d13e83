"""What every action is: a typed function with a pydantic params model.

An action receives its validated params and an :class:`ActionContext`, does one
thing, and returns an :class:`Outcome` for the incident's timeline. An action that
cannot do its job raises :class:`responder.errors.ActionError` (never logs and
returns as if it had succeeded). In dry run (``ctx.dry_run``) it changes nothing
and returns what it *would* do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from redis import Redis

    from responder.config.loader import LoadedConfig
    from responder.store.keys import Keys


class Params(BaseModel):
    """Base of every action's params model: strict, so a misspelt parameter is a config error."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class Outcome:
    """What an action did (or, in dry run, would do), for the timeline."""

    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionContext:
    """Everything an action may touch. Built by the playbook runner for each step."""

    redis: Redis
    keys: Keys
    config: LoadedConfig
    incident: dict[str, Any]
    """The incident record: ``id``, ``key``, ``rule``, ``severity``, ``status``..."""
    alert: dict[str, Any]
    """The alert that started the run, as Alertmanager sent it."""
    dry_run: bool = False
    timeout: float = 60.0
    """The step's timeout in seconds; waiting actions bound themselves by it."""
    run_id: str = ""


@dataclass(frozen=True)
class Action(Generic[P]):
    """A named action: its params model and the function that performs it."""

    name: str
    params: type[P]
    run: Callable[[P, ActionContext], Outcome]
    description: str = ""
