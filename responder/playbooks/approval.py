"""Approving a step that waits for it (``requires_approval``): from Slack, the API or the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.playbooks.runs import enqueue_step
from responder.store import incidents as store
from responder.store import runs
from responder.store.records import Event, RunStatus

if TYPE_CHECKING:
    from responder.runtime import Runtime


def approve(rt: Runtime, run_id: str, index: int, by: str) -> bool:
    """Approve a waiting step; returns False when the run is not waiting on it (a double click).

    Under a lock: two approvals at once (a double click, Slack and the API) must not
    both find the step still waiting and run it twice.
    """
    with rt.redis.lock(f"{rt.keys.run(run_id)}:approving", timeout=30, blocking_timeout=30):
        run = runs.load(rt.redis, rt.keys, run_id)
        if run is None or run.status != RunStatus.AWAITING_APPROVAL or run.step != index:
            return False
        playbook = rt.config.playbooks.get(run.playbook)
        if playbook is None or index >= len(playbook.steps):
            return False
        with rt.redis.pipeline(transaction=True) as pipe:
            pipe.multi()
            runs.approve(pipe, rt.keys, run_id, index, by)
            event = Event(
                rt.clock(),
                "step.approved",
                f"{playbook.name} step {index + 1} approved by {by}",
                {"run": run_id, "step": index},
            )
            store.add_event(pipe, rt.keys, run.incident_id, event)
            enqueue_step(pipe, rt, run_id, index, playbook.steps[index])
            pipe.execute()
        return True
