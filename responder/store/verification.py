"""An incident's verification loop in Redis: one hash per incident (``keys.verification``).

Fields: ``stage`` (``first``: the rule's playbooks; ``else``: ``verify.else``), ``state``
(``running``: waiting for the stage's runs; ``checking``: a check is scheduled; ``done``),
``pending`` (JSON list of the stage's run ids not yet completed), ``playbooks`` (JSON list
of the stage's playbooks), ``tried`` (JSON list of every playbook started so far, in
order), ``held`` (``1``: ``page: on_failure`` holds level 1), ``check`` (the token of the
scheduled check: a check job carrying another does nothing), ``verdict`` (the last one:
``ok``, ``failed``, ``unknown``) and ``after`` (seconds).

What the loop does is :mod:`responder.incidents.verification`; this module only reads and
writes the record.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from responder.store.codec import text

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from responder.store.keys import Keys

LOOP_TTL = 30 * 86400
"""As long as the incident's runs are kept."""


class LoopState(enum.StrEnum):
    RUNNING = "running"
    """The stage's playbooks are running; the check is scheduled when they all completed."""
    CHECKING = "checking"
    """They completed: a check asks Alertmanager at the scheduled time."""
    DONE = "done"
    """A verdict ended the loop, or a run did not complete (nothing to verify), or it resolved."""


class Stage(enum.StrEnum):
    FIRST = "first"
    ELSE = "else"


@dataclass
class Loop:
    incident_id: str
    stage: Stage
    state: LoopState
    after: float
    held: bool = False
    pending: list[str] = field(default_factory=list)
    playbooks: list[str] = field(default_factory=list)
    """The playbooks of the current stage."""
    tried: list[str] = field(default_factory=list)
    """Every playbook started so far, both stages, in order."""
    check: str = ""
    verdict: str = ""

    @property
    def active(self) -> bool:
        return self.state != LoopState.DONE

    @property
    def verified(self) -> bool:
        """A check found the incident's alerts no longer firing."""
        return self.verdict == "ok"


def save(pipe: Pipeline | Redis, keys: Keys, loop: Loop) -> None:
    key = keys.verification(loop.incident_id)
    pipe.hset(
        key,
        mapping={
            "stage": loop.stage.value,
            "state": loop.state.value,
            "after": loop.after,
            "held": int(loop.held),
            "pending": json.dumps(loop.pending),
            "playbooks": json.dumps(loop.playbooks),
            "tried": json.dumps(loop.tried),
            "check": loop.check,
            "verdict": loop.verdict,
        },
    )
    pipe.expire(key, LOOP_TTL)


def load(redis: Redis | Pipeline, keys: Keys, incident_id: str) -> Loop | None:
    raw = redis.hgetall(keys.verification(incident_id))
    if not raw:
        return None
    data = {text(k): text(v) for k, v in raw.items()}
    return Loop(
        incident_id=incident_id,
        stage=Stage(data.get("stage", Stage.FIRST)),
        state=LoopState(data.get("state", LoopState.DONE)),
        after=float(data.get("after") or 0),
        held=data.get("held") == "1",
        pending=json.loads(data.get("pending") or "[]"),
        playbooks=json.loads(data.get("playbooks") or "[]"),
        tried=json.loads(data.get("tried") or "[]"),
        check=data.get("check", ""),
        verdict=data.get("verdict", ""),
    )


def active(redis: Redis, keys: Keys, incident_id: str) -> bool:
    """Whether the incident has a loop still waiting for runs or a check (one small read)."""
    return is_active(redis.hget(keys.verification(incident_id), "state"))


def read_active(pipe: Pipeline, keys: Keys, incident_id: str) -> None:
    """Queue the read of :func:`active` in the caller's pipeline; :func:`is_active` tells its result."""
    pipe.hget(keys.verification(incident_id), "state")


def is_active(state: bytes | str | None) -> bool:
    return state is not None and text(state) != LoopState.DONE
