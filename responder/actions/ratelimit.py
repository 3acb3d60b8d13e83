"""``ratelimit.set_profile``: make a named rate-limit profile active (flag ``rateLimits``).

A profile's keys and values are the managed app's own settings; the flag becomes the profile's name
plus exactly those values, whatever they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.actions.flags import changed_by
from responder.errors import ActionError
from responder.store import flags as store

FLAG = "rateLimits"


class SetProfileParams(Params):
    profile: str = Field(description="Name of a profile in responder.yaml `rate_limit_profiles`.")


def set_profile(params: SetProfileParams, ctx: ActionContext) -> Outcome:
    profiles = ctx.config.responder.rate_limit_profiles
    if params.profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ActionError(f'unknown rate-limit profile "{params.profile}" (known: {known})', retryable=False)
    value = {"profile": params.profile, **profiles[params.profile]}
    before = store.get(ctx.redis, ctx.keys, FLAG)
    if ctx.dry_run:
        return Outcome(
            f"would activate rate-limit profile {params.profile}", {"before": before, "after": value}
        )
    store.set_value(ctx.redis, ctx.keys, FLAG, value, changed_by(ctx))
    return Outcome(f"activated rate-limit profile {params.profile}", {"before": before, "after": value})


ACTIONS: list[Action[Any]] = [
    Action("ratelimit.set_profile", SetProfileParams, set_profile, "Activate a named rate-limit profile."),
]
