"""``flags.set`` and ``flags.disable_all``: change feature flags in the responder's store."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from responder.actions.base import Action, ActionContext, Outcome, Params
from responder.errors import ActionError
from responder.store import flags as store


def changed_by(ctx: ActionContext) -> store.FlagChange:
    """The flag store's record of a change made by this step (shown on the dashboard's flags page)."""
    return store.FlagChange(store.AUTOMATION, ctx.clock(), ctx.incident.id, ctx.run_id or None)


class SetParams(Params):
    flag: str = Field(description="Name of the flag, as in responder.yaml `flags`.")
    value: Any = Field(default=None, description="New value; replaces the current one.")
    merge: dict[str, Any] | None = Field(default=None, description="Object merged into the current value.")

    @model_validator(mode="after")
    def _one_of(self) -> SetParams:
        if (self.merge is None) == ("value" not in self.model_fields_set):
            raise ValueError("give exactly one of `value` or `merge`")
        return self


def set_flag(params: SetParams, ctx: ActionContext) -> Outcome:
    def change(current: dict[str, Any]) -> dict[str, Any]:
        if params.flag not in current:
            raise ActionError(
                f'unknown flag "{params.flag}": add it to `flags` in responder.yaml', retryable=False
            )
        if params.merge is None:
            return {params.flag: params.value}
        old = current[params.flag]
        if not isinstance(old, dict):
            raise ActionError(
                f'flag "{params.flag}" is not an object; use `value` instead of `merge`', retryable=False
            )
        return {params.flag: {**old, **params.merge}}

    if ctx.dry_run:
        before = store.all_flags(ctx.redis, ctx.keys)
        after = change(before)[params.flag]
        return Outcome(
            f"would set flag {params.flag} to {json.dumps(after, sort_keys=True)}",
            {"flag": params.flag, "before": before.get(params.flag), "after": after},
        )
    before_value = store.get(ctx.redis, ctx.keys, params.flag)
    after_value = store.update(ctx.redis, ctx.keys, change, changed_by(ctx))[params.flag]
    return Outcome(
        f"set flag {params.flag} to {json.dumps(after_value, sort_keys=True)}",
        {"flag": params.flag, "before": before_value, "after": after_value},
    )


class DisableAllParams(Params):
    except_: list[str] = Field(default_factory=list, alias="except", description="Flags to leave alone.")


def disable_all(params: DisableAllParams, ctx: ActionContext) -> Outcome:
    def change(current: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {**value, "enabled": False}
            for name, value in current.items()
            if name not in params.except_ and isinstance(value, dict) and value.get("enabled") is True
        }

    if ctx.dry_run:
        names = sorted(change(store.all_flags(ctx.redis, ctx.keys)))
        return Outcome(f"would disable flags: {', '.join(names) or 'none enabled'}", {"flags": names})
    names = sorted(store.update(ctx.redis, ctx.keys, change, changed_by(ctx)))
    return Outcome(f"disabled flags: {', '.join(names) or 'none were enabled'}", {"flags": names})


ACTIONS: list[Action[Any]] = [
    Action("flags.set", SetParams, set_flag, "Change one feature flag (replace or merge)."),
    Action(
        "flags.disable_all", DisableAllParams, disable_all, "Set enabled: false on every flag that has it."
    ),
]
