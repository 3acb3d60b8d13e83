"""What the responder will do about an alert, decided without I/O (see :mod:`.response`).

The real path (:mod:`responder.incidents.intake`) and ``responder simulate`` both call
:func:`plan_alert`, so a simulation can never disagree with a run.
"""

from responder.plan.flapping import flapping_limit
from responder.plan.response import (
    Automation,
    Facts,
    Page,
    ResponsePlan,
    plan_alert,
    plan_else,
    plan_resolution,
)
from responder.plan.severity import severity_for
from responder.plan.storm import is_storm_key, storm_key, storm_limit

__all__ = [
    "Automation",
    "Facts",
    "Page",
    "ResponsePlan",
    "flapping_limit",
    "is_storm_key",
    "plan_alert",
    "plan_else",
    "plan_resolution",
    "severity_for",
    "storm_key",
    "storm_limit",
]
