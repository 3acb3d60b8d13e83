"""What the responder will do about an alert, decided without I/O (see :mod:`.response`).

The real path (:mod:`responder.incidents.intake`) and ``responder simulate`` both call
:func:`plan_alert`, so a simulation can never disagree with a run.
"""

from responder.plan.response import Automation, Facts, Page, ResponsePlan, plan_alert, plan_resolution
from responder.plan.severity import severity_for

__all__ = ["Automation", "Facts", "Page", "ResponsePlan", "plan_alert", "plan_resolution", "severity_for"]
