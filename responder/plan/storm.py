"""The storm guard's decision (docs/playbooks.md, Storms). Pure: the caller counts, this decides.

A rule that would open more than ``max_incidents`` incidents within ``per`` (sliding)
sends every new alert beyond that to one storm incident for the rule (key
``<rule>:storm``). Every alert that would have opened an incident counts, those that
joined the storm incident included, so a storm that goes on stays one incident instead
of letting another ``max_incidents`` through each time ``per`` slides by; once the rate
falls back under the limit, new alerts open their own incidents again.
"""

from __future__ import annotations

from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Rule, Storm

STORM_SUFFIX = ":storm"
MEMBERS_LISTED = 20
"""Member alerts a storm incident's timeline names one by one; later ones are only counted."""


def storm_key(rule: str) -> str:
    """The incident key of ``rule``'s storm incident (ordinary keys end in hex digits, never ``storm``)."""
    return rule + STORM_SUFFIX


def is_storm_key(key: str) -> bool:
    return key.endswith(STORM_SUFFIX)


def storm_limit(config: LoadedConfig, rule: Rule) -> Storm | None:
    """The limit that applies to ``rule``: its own ``storm``, else ``safety.storm``; None when off."""
    setting = rule.storm if rule.storm is not None else config.responder.safety.storm
    return None if setting == "off" else setting


def crosses(limit: Storm, would_have_opened: int) -> bool:
    """Whether an alert is beyond ``limit`` when ``would_have_opened`` new incidents of its rule
    (before it) fall within the window."""
    return would_have_opened + 1 > limit.max_incidents


def describe(limit: Storm | None) -> str:
    """``25 per 10m`` or ``off``: for ``check``, ``simulate`` and the timeline."""
    return "off" if limit is None else f"{limit.max_incidents} per {format_duration(limit.per)}"


def reason(rule: str, limit: Storm) -> str:
    """Why alerts go to the storm incident, in one phrase."""
    return f"more than {limit.max_incidents} new incidents of rule {rule} within {format_duration(limit.per)}"
