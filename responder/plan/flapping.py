"""The flapping brake's decision (docs/playbooks.md). Pure: the caller reads the open history, this decides.

An incident key whose opens within the last ``per`` (sliding) would exceed ``max_opens``
with this one is flapping: its playbooks do not run (restarting the same Deployment every
ten minutes all night is what this prevents) and level 1 is paged at once. It stays
flapping until ``per`` passes with no open at all: a key that opens every 20 minutes
against a limit of 3 per hour keeps flapping rather than slipping back under the count
between two opens. Every open counts, the flapping ones included.
"""

from __future__ import annotations

from collections.abc import Sequence

from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Flapping, Rule


def flapping_limit(config: LoadedConfig, rule: Rule) -> Flapping | None:
    """The limit that applies to ``rule``: its own ``flapping``, else ``safety.flapping``; None when off."""
    setting = rule.flapping if rule.flapping is not None else config.responder.safety.flapping
    return None if setting == "off" else setting


def is_flapping(limit: Flapping, opens_before: Sequence[float], flapping_left: float) -> bool:
    """Whether an open is flapping, given the key's earlier opens within ``limit.per`` and how long the
    key is still flapping from before (seconds; 0 when it is not)."""
    return len(opens_before) + 1 > limit.max_opens or flapping_left > 0


def describe(limit: Flapping | None) -> str:
    """``3 opens per 1h`` or ``off``: for ``check``, ``simulate`` and the timeline."""
    return "off" if limit is None else f"{limit.max_opens} opens per {format_duration(limit.per)}"


def reason(limit: Flapping, opens: int) -> str:
    """Why the key is flapping, in one phrase (``opens`` counts this one)."""
    per = format_duration(limit.per)
    if opens > limit.max_opens:
        return f"opened {opens} times within {per} (limit {limit.max_opens})"
    return (
        f"still flapping: it opened more than {limit.max_opens} times within {per}, "
        f"and {per} has not passed without an open since"
    )
