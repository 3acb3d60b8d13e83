"""The gates before a step, decided on plain values: no Redis, no workers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from responder.config.models import Playbook
from responder.playbooks import gates
from responder.playbooks.templating import template_context
from responder.store.records import Alert, Incident, IncidentStatus, Run, RunStatus

PLAYBOOK = Playbook.model_validate(
    {
        "name": "throttle",
        "steps": [
            {"action": "flags.set", "with": {"flag": "x", "value": 1}},
            {
                "action": "flags.set",
                "with": {"flag": "y", "value": 2},
                "when": "alert.labels.count | int > 5",
            },
            {"action": "flags.set", "with": {"flag": "z", "value": 3}, "requires_approval": True},
        ],
    }
)
ALERT = Alert.from_webhook({"labels": {"alertname": "Quota", "count": "9"}, "fingerprint": "fp1"})
INCIDENT = Incident(
    id="0123456789ab", key="quota:1", rule="quota", severity="critical", status=IncidentStatus.TRIGGERED,
    title="Quota", summary="", labels=ALERT.labels, annotations={}, group={}, created_at=0.0, updated_at=0.0,
)  # fmt: skip
RUN = Run(
    id="00112233445566ff", incident_id=INCIDENT.id, playbook="throttle", alert=ALERT, trigger="firing",
    dry_run=False, status=RunStatus.RUNNING, step=0, created_at=0.0, target="t",
)  # fmt: skip


def snap(index: int = 0, alert: Alert = ALERT, **changes: Any) -> gates.StepSnapshot:
    run = replace(RUN, **{"step": index, "alert": alert, **changes.pop("run", {})})
    fields: dict[str, Any] = {
        "run": run,
        "index": index,
        "incident": INCIDENT,
        "playbook": PLAYBOOK,
        "paused": False,
        "budget_used": 0,
        "budget_limit": 30,
        "context": template_context(alert.to_webhook(), {"id": INCIDENT.id}),
    }
    return gates.StepSnapshot(**{**fields, **changes})


def test_a_step_with_nothing_in_its_way_proceeds() -> None:
    assert gates.decide(snap()) == gates.Proceed()


def test_a_duplicate_delivery_or_a_run_that_moved_on_is_stale() -> None:
    assert gates.decide(snap(run={"step": 1})) == gates.Stale()
    assert gates.decide(snap(run={"status": RunStatus.COMPLETED})) == gates.Stale()
    assert gates.decide(gates.StepSnapshot(None, 0, None, None, False, 0, 30)) == gates.Stale()


def test_a_vanished_incident_ends_the_run_and_a_vanished_playbook_fails_it() -> None:
    assert gates.decide(snap(incident=None)) == gates.Finish(
        RunStatus.FAILED, "incident 0123456789ab no longer exists"
    )
    assert gates.decide(snap(playbook=None)) == gates.Fail('playbook "throttle" is no longer in the config')


def test_another_run_on_the_same_target_means_this_one_is_skipped_and_keeps_its_hands_off_the_lock() -> None:
    verdict = gates.decide(snap(lock_holder="ffeeddccbbaa9988"))
    assert verdict == gates.Finish(
        RunStatus.SKIPPED,
        "playbook throttle not run: already running (run ffeeddccbbaa9988)",
        release_lock=False,
    )


def test_the_kill_switch_cancels_the_run_before_its_step() -> None:
    assert gates.decide(snap(paused=True)) == gates.Finish(
        RunStatus.CANCELLED, "throttle step 1/3 (flags.set) not run: automation is paused"
    )


def test_a_false_condition_skips_the_step_and_a_true_one_lets_it_run() -> None:
    low = Alert.from_webhook({"labels": {"alertname": "Quota", "count": "2"}, "fingerprint": "fp1"})
    assert gates.decide(snap(1, alert=low)) == gates.Skip(
        "throttle step 2/3 (flags.set) skipped: condition `alert.labels.count | int > 5` is false"
    )
    assert gates.decide(snap(1)) == gates.Proceed()


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("alert.labels.count > 5", "TypeError: '>' not supported between instances of 'str' and 'int'"),
        ("1 / 0 > 1", "ZeroDivisionError: division by zero"),
    ],
)
def test_a_condition_that_raises_fails_the_step_with_the_reason(when: str, problem: str) -> None:
    playbook = PLAYBOOK.model_copy(update={"steps": [PLAYBOOK.steps[0].model_copy(update={"when": when})]})
    verdict = gates.decide(snap(playbook=playbook))
    assert verdict == gates.Fail(
        f"throttle step 1/1 (flags.set) failed: condition `{when}` could not be evaluated: {problem}"
    )


def test_an_unapproved_step_waits_and_an_approved_one_runs() -> None:
    assert gates.decide(snap(2)) == gates.AwaitApproval("throttle step 3/3 (flags.set) waits for approval")
    assert gates.decide(snap(2, run={"approved": {2: "alice"}})) == gates.Proceed()


def test_a_spent_budget_stops_automation() -> None:
    assert gates.decide(snap(budget_used=30)) == gates.BudgetSpent(
        "automation budget exhausted (30 actions/hour): throttle step 1/3 (flags.set) not run"
    )
    assert gates.decide(snap(budget_used=29)) == gates.Proceed()


def test_the_gates_apply_in_order_pause_before_condition_before_approval() -> None:
    assert isinstance(gates.decide(snap(2, paused=True, budget_used=99)), gates.Finish)
    assert isinstance(gates.decide(snap(2, budget_used=99)), gates.AwaitApproval)


# --- approving a waiting step ------------------------------------------------------------------

WAITING = replace(RUN, step=2, status=RunStatus.AWAITING_APPROVAL, awaiting_since=1000.0)
RESOLVED = replace(INCIDENT, status=IncidentStatus.RESOLVED)


def test_a_waiting_step_may_be_approved_until_an_hour_has_passed() -> None:
    assert gates.decide_approval(WAITING, 2, INCIDENT, 1000.0 + 3599.9) == gates.Approvable()
    assert gates.decide_approval(WAITING, 2, INCIDENT, 1000.0 + 3600) == gates.ApprovalExpired(
        "throttle step 3 was not approved within 1h: the approval expired at 1970-01-01T01:16:40.000Z;"
        " the run ended",
        ends_run=True,
    )


def test_an_approval_once_the_incident_resolved_is_refused_however_early() -> None:
    assert gates.decide_approval(WAITING, 2, RESOLVED, 1001.0) == gates.ApprovalRefused(
        "throttle step 3 cannot be approved: incident 0123456789ab is resolved; the run ended", ends_run=True
    )
    assert isinstance(gates.decide_approval(WAITING, 2, None, 1001.0), gates.ApprovalRefused)


def test_a_run_that_already_ended_by_expiry_still_says_why_but_is_not_ended_again() -> None:
    ended = replace(WAITING, status=RunStatus.CANCELLED)
    verdict = gates.decide_approval(ended, 2, INCIDENT, 9999.0)
    assert isinstance(verdict, gates.ApprovalExpired) and not verdict.ends_run


@pytest.mark.parametrize(
    "run",
    [
        replace(WAITING, approved={2: "alice"}, status=RunStatus.RUNNING),  # a double click
        replace(WAITING, step=1),  # another step
        replace(RUN, step=2, status=RunStatus.CANCELLED),  # never waited: paused before it got there
    ],
    ids=["approved", "other-step", "never-waited"],
)
def test_nothing_to_approve_is_not_waiting(run: Run) -> None:
    assert gates.decide_approval(run, 2, INCIDENT, 1001.0) == gates.NotWaiting()


def test_a_run_from_before_waits_were_timed_expires_an_hour_after_it_was_created() -> None:
    legacy = replace(WAITING, awaiting_since=None, created_at=500.0)
    assert gates.approval_deadline(legacy) == 4100.0
    assert isinstance(gates.decide_approval(legacy, 2, INCIDENT, 4100.0), gates.ApprovalExpired)
