"""``notify``: tell the incident's people something from inside a playbook."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from responder.actions.base import Action, ActionContext, Outcome, Params


class NotifyParams(Params):
    message: str = Field(description="Text to post; a template like every parameter.")
    channels: list[Literal["slack", "email", "pagerduty"]] | None = Field(
        default=None, description="Channels to use; default the rule's `notify` channels."
    )


def notify(params: NotifyParams, ctx: ActionContext) -> Outcome:
    if ctx.dry_run:
        return Outcome(f"would notify: {params.message}", {"message": params.message})
    records = ctx.people.note(params.message, params.channels)
    return Outcome(f"notified: {params.message}", {"message": params.message, "deliveries": records})


ACTIONS: list[Action[Any]] = [
    Action("notify", NotifyParams, notify, "Post a message to the incident's thread, email and PagerDuty."),
]
