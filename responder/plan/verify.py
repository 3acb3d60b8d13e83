"""Verification's decisions (docs/playbooks.md). Pure: the caller asks Alertmanager, this decides.

After a check: ``ok`` (the incident's alerts no longer fire) ends the loop, fixed;
``failed`` (still firing) and ``unknown`` (Alertmanager could not say: treated as failed,
fail safe) run the rule's ``verify.else`` playbooks once and check again, and after that
(or with no ``else``) page the next escalation level at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from responder.config.durations import format_duration

Verdict = Literal["ok", "failed", "unknown"]
Next = Literal["fixed", "else", "escalate"]


def verdict_of(fingerprints: Collection[str], still_firing: Collection[str] | None) -> Verdict:
    """``still_firing`` None: Alertmanager could not be asked."""
    if still_firing is None:
        return "unknown"
    return "failed" if any(fp in still_firing for fp in fingerprints) else "ok"


def next_step(verdict: Verdict, first_stage: bool, has_else: bool) -> Next:
    if verdict == "ok":
        return "fixed"
    return "else" if first_stage and has_else else "escalate"


def tried(playbooks: Sequence[str]) -> str:
    """``restart_workers, then enable_direct_processing``; ``nothing`` when none ran."""
    return ", then ".join(dict.fromkeys(playbooks)) or "nothing"


def check_message(
    verdict: Verdict, names: Sequence[str], after: float, playbooks: Sequence[str], why: str
) -> str:
    """The timeline line of a check's verdict (``why``: Alertmanager's error for ``unknown``)."""
    wait = format_duration(after)
    done = f"{wait} after {tried(playbooks)} completed" if playbooks else f"{wait} after the incident opened"
    alerts = ", ".join(dict.fromkeys(names)) or "its alerts"
    if verdict == "ok":
        return f"verified: Alertmanager no longer has {alerts} firing {done}"
    if verdict == "failed":
        return f"not fixed: Alertmanager still has {alerts} firing {done}"
    return f"could not verify {done}: {why}; treated as still firing"


def escalation_reason(verdict: Verdict, playbooks: Sequence[str], extra: str = "", head: str = "") -> str:
    """What the page says when automation did not clear the incident, with what it tried (``head``
    replaces the opening phrase)."""
    if not head and verdict == "unknown":
        head = (
            "automation could not be verified (Alertmanager did not answer), so it is treated as not cleared"
        )
    elif not head:
        head = "automation did not clear it: the alerts still fire"
    return f"{head}; tried {tried(playbooks)}" + (f"; {extra}" if extra else "")
