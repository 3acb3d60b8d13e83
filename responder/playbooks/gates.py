"""Whether a step may run now: small pure gates over a snapshot of the run, in order.

:func:`decide` looks at a :class:`StepSnapshot` (read once by
:mod:`responder.playbooks.steps`) and returns the first gate's verdict that stops the
step, or :class:`Proceed`. The gates, in order:

1. the run is still on this step (a duplicate delivery finds it moved on): :class:`Stale`;
2. the incident and the playbook still exist;
3. one run of a playbook per target: another run holds the target's lock;
4. the kill switch: automation is paused;
5. the step's ``when`` condition is false (skip it) or cannot be evaluated (the step fails);
6. ``requires_approval`` and nobody has approved yet;
7. the hourly action budget is spent.

Approving a waiting step, or confirming a run that waits for a Run click (``automation:
confirm``, which is approving its first step), has its own gate, :func:`decide_approval`:
it is taken only while the step still waits, within :data:`APPROVAL_WAIT` of the wait's
start, and while its incident is open.

Nothing here touches Redis, so every gate is tested on plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from responder.clock import iso
from responder.config.durations import format_duration
from responder.config.models import Playbook, Step
from responder.errors import TemplateError
from responder.playbooks import templating
from responder.store.records import Incident, Run, RunStatus


@dataclass(frozen=True)
class StepSnapshot:
    run: Run | None
    index: int
    incident: Incident | None
    playbook: Playbook | None
    paused: bool
    budget_used: int
    budget_limit: int
    lock_holder: str | None = None
    """Another run holding this run's (playbook, target) lock, when this run tried to take it."""
    context: Mapping[str, Any] | None = None
    """The template context (alert, incident, env) the step's condition and parameters see."""
    loop_active: bool | None = None
    """Whether the incident's verification loop was running when the snapshot was read (None:
    not read); the step's outcome tells the loop when its run ends."""

    @property
    def step(self) -> Step | None:
        if self.playbook is None or self.index >= len(self.playbook.steps):
            return None
        return self.playbook.steps[self.index]

    @property
    def label(self) -> str:
        """``restart_workers step 2/3 (kubernetes.wait_rollout)``: how the timeline names the step."""
        step = self.step
        if self.playbook is None or step is None:
            return f"step {self.index + 1}"
        return f"{self.playbook.name} step {self.index + 1}/{len(self.playbook.steps)} ({step.action})"


@dataclass(frozen=True)
class Proceed:
    """Run the action."""


@dataclass(frozen=True)
class Stale:
    """A duplicate delivery, or a run already past this step: do nothing."""


@dataclass(frozen=True)
class Finish:
    """End the run with ``status`` without running the step (nothing to escalate)."""

    status: RunStatus
    message: str
    release_lock: bool = True


@dataclass(frozen=True)
class Fail:
    """The step fails without being attempted: recorded, posted to the thread, escalated."""

    message: str


@dataclass(frozen=True)
class Skip:
    """The step's condition is false: record it as skipped and go on to the next step."""

    message: str


@dataclass(frozen=True)
class AwaitApproval:
    message: str


@dataclass(frozen=True)
class BudgetSpent:
    """The hourly action budget is used up: automation stops and people are paged."""

    message: str


Verdict = Proceed | Stale | Finish | Fail | Skip | AwaitApproval | BudgetSpent


def decide(snap: StepSnapshot) -> Verdict:
    for gate in (_current, _exists, _lock, _pause, _condition, _approval, _budget):
        verdict = gate(snap)
        if verdict is not None:
            return verdict
    return Proceed()


def _current(snap: StepSnapshot) -> Verdict | None:
    run = snap.run
    if run is None or run.status != RunStatus.RUNNING or run.step != snap.index:
        return Stale()
    return None


def _exists(snap: StepSnapshot) -> Verdict | None:
    assert snap.run is not None
    if snap.incident is None:
        return Finish(RunStatus.FAILED, f"incident {snap.run.incident_id} no longer exists")
    if snap.step is None:
        return Fail(f'playbook "{snap.run.playbook}" is no longer in the config')
    return None


def _lock(snap: StepSnapshot) -> Verdict | None:
    if snap.lock_holder is None:
        return None
    assert snap.run is not None
    message = f"playbook {snap.run.playbook} not run: already running (run {snap.lock_holder})"
    return Finish(RunStatus.SKIPPED, message, release_lock=False)


def _pause(snap: StepSnapshot) -> Verdict | None:
    if snap.paused:
        return Finish(RunStatus.CANCELLED, f"{snap.label} not run: automation is paused")
    return None


def _condition(snap: StepSnapshot) -> Verdict | None:
    step = snap.step
    if step is None or step.when is None:
        return None
    try:
        holds = templating.evaluate_condition(step.when, snap.context or {})
    except TemplateError as exc:
        return Fail(f"{snap.label} failed: {exc}")
    except Exception as exc:  # label data can make any expression raise: "abc" > 5, 1/0
        problem = f"{type(exc).__name__}: {exc}"
        return Fail(f"{snap.label} failed: condition `{step.when}` could not be evaluated: {problem}")
    if not holds:
        return Skip(f"{snap.label} skipped: condition `{step.when}` is false")
    return None


def _approval(snap: StepSnapshot) -> Verdict | None:
    step, run = snap.step, snap.run
    if step is not None and run is not None and step.requires_approval and snap.index not in run.approved:
        return AwaitApproval(f"{snap.label} waits for approval")
    return None


def _budget(snap: StepSnapshot) -> Verdict | None:
    if snap.budget_used >= snap.budget_limit:
        return BudgetSpent(budget_message(snap))
    return None


def budget_message(snap: StepSnapshot) -> str:
    return f"automation budget exhausted ({snap.budget_limit} actions/hour): {snap.label} not run"


# -- approving a waiting step ----------------------------------------------------------------------------

APPROVAL_WAIT = 3600.0
"""Seconds a step (or a run waiting for confirmation) waits for approval; then the run ends."""


@dataclass(frozen=True)
class Approvable:
    """The step waits and may be approved now."""


@dataclass(frozen=True)
class NotWaiting:
    """Nothing to approve: already approved (a double click), or the run is not on that step."""


@dataclass(frozen=True)
class ApprovalExpired:
    """The wait ran out. ``ends_run``: the run still waits and must be ended now."""

    message: str
    ends_run: bool


@dataclass(frozen=True)
class ApprovalRefused:
    """The incident resolved (or is gone): nothing is approved for it any more."""

    message: str
    ends_run: bool


ApprovalVerdict = Approvable | NotWaiting | ApprovalExpired | ApprovalRefused


def approval_deadline(run: Run) -> float:
    """When the run's current wait for approval expires (runs from before waits were timed: from creation)."""
    since = run.awaiting_since if run.awaiting_since is not None else run.created_at
    return since + APPROVAL_WAIT


def confirms(run: Run, index: int) -> bool:
    """Whether approving step ``index`` of ``run`` is the Run click that confirms it (``automation:
    confirm``): its first step, in a run created waiting. One click also approves that step when it
    ``requires_approval``."""
    return run.confirm and index == 0


def decide_approval(run: Run, index: int, incident: Incident | None, now: float) -> ApprovalVerdict:
    """May step ``index`` of ``run`` be approved (or the run confirmed) at ``now``?"""
    if index in run.approved or run.step != index:
        return NotWaiting()
    waiting = run.status == RunStatus.AWAITING_APPROVAL
    if not waiting and run.awaiting_since is None:
        return NotWaiting()  # it never waited: a running step, or a run ended before reaching it
    confirm = confirms(run, index)
    label = f"playbook {run.playbook} (run {run.id})" if confirm else f"{run.playbook} step {index + 1}"
    done = "confirmed" if confirm else "approved"
    if incident is None or not incident.open:
        ended = "; the run ended" if waiting else ""
        message = f"{label} cannot be {done}: incident {run.incident_id} is resolved{ended}"
        return ApprovalRefused(message, waiting)
    deadline = approval_deadline(run)
    if now >= deadline:
        wait = format_duration(APPROVAL_WAIT)
        ended = "; the run ended" if waiting else ""
        what = "confirmation" if confirm else "approval"
        message = f"{label} was not {done} within {wait}: the {what} expired at {iso(deadline)}{ended}"
        return ApprovalExpired(message, waiting)
    return Approvable() if waiting else NotWaiting()
