"""What every action is: a typed function with a pydantic params model.

An action receives its validated params and an :class:`ActionContext`, does one
thing, and returns an :class:`Outcome` for the incident's timeline. An action that
cannot do its job raises :class:`responder.errors.ActionError` (never logs and
returns as if it had succeeded). In dry run (``ctx.dry_run``) it changes nothing
and returns what it *would* do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from responder.clock import Clock

if TYPE_CHECKING:
    from redis import Redis

    from responder.config.loader import LoadedConfig
    from responder.store.keys import Keys
    from responder.store.records import Alert, Incident


class People(Protocol):
    """How an action tells the incident's people something (the ``notify`` action).

    Provided by the layer that runs steps, so actions never import escalation or channels.
    """

    def note(self, text: str, channels: Sequence[str] | None) -> list[dict[str, Any]]:
        """Tell everyone paged so far; one record per delivery (see :mod:`responder.notify.dispatch`)."""
        ...


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
    incident: Incident
    alert: Alert
    """The alert the run acts for."""
    people: People
    dry_run: bool = False
    """Decided once per step by the runner (global or per-rule dry run): actions only obey it."""
    timeout: float = 60.0
    """The step's timeout in seconds; waiting actions bound themselves by it."""
    run_id: str = ""
    clock: Clock = time.time
    """The runtime's clock (the runner passes ``rt.clock``), for the times an action records."""


@dataclass(frozen=True)
class Action(Generic[P]):
    """A named action: its params model and the function that performs it."""

    name: str
    params: type[P]
    run: Callable[[P, ActionContext], Outcome]
    description: str = ""
