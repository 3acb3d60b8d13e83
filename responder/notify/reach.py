"""Who can be reached at all: per team in an escalation policy, what each of its channels lacks.

For ``/ready`` and ``responder check`` (docs/escalation.md, Honest paging): a team that no channel
can reach is paged in name only, and the operator should hear about it before 3 a.m.
Computed from the config and the environment alone; nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from responder.config.loader import LoadedConfig
from responder.notify.dispatch import CHANNELS, build_channels


def team_channels(config: LoadedConfig) -> dict[str, tuple[str, ...]]:
    """Each team of an escalation policy and the channels it would be paged on: those of the rules
    using the policy (every channel when no rule uses it yet), in the order of :data:`CHANNELS`."""
    wanted: dict[str, set[str]] = {}
    for policy, levels in config.responder.escalation_policies.items():
        rules = [rule for rule in config.rules if rule.notify and rule.escalation.policy == policy]
        channels = {c for rule in rules for c in rule.notify} if rules else set(CHANNELS)
        for teams in levels:
            for team in teams:
                wanted.setdefault(team, set()).update(channels)
    return {team: tuple(c for c in CHANNELS if c in names) for team, names in wanted.items()}


def team_reach(
    config: LoadedConfig, env: Mapping[str, str] | None = None
) -> dict[str, dict[str, str | None]]:
    """Per policy team, per channel it is paged on: None when that channel reaches it, else why not."""
    registry = build_channels(env)
    out: dict[str, dict[str, str | None]] = {}
    for team, channels in team_channels(config).items():
        team_config = config.responder.teams.get(team)
        reach: dict[str, str | None] = {}
        for name in channels:
            channel = registry[name]
            if team_config is None:
                reach[name] = f"team {team} is not defined in responder.yaml"
            elif channel.target(team, team_config) is None:
                reach[name] = f"team {team} has no {name} address"
            else:
                reach[name] = channel.configured()
        out[team] = reach
    return out


def unreachable_teams(config: LoadedConfig, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Policy teams no channel can reach, each with every channel's reason (``slack: ...; email: ...``)."""
    return {
        team: "; ".join(f"{channel}: {reason}" for channel, reason in reach.items())
        for team, reach in team_reach(config, env).items()
        if all(reason is not None for reason in reach.values())
    }
