"""The configuration contract as strict pydantic models.

Unknown keys are errors everywhere (``extra="forbid"``), so a typo in a rule never
silently turns off a response.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from responder.config.durations import Duration
from responder.config.hosts import parse_pattern

Severity = Literal["low", "medium", "high", "critical"]
Channel = Literal["slack", "email", "pagerduty"]
CHANNELS: tuple[Channel, ...] = ("slack", "email", "pagerduty")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Team(Strict):
    slack: str | None = None
    email: list[str] = Field(default_factory=list)
    pagerduty: str | None = None


def _profile_value(value: Any) -> str | int | float | bool:
    # The values are the managed app's settings, copied into the rateLimits flag as they are: any
    # scalar is fine, but a list or mapping is almost always an indentation slip.
    if isinstance(value, str | int | float | bool):
        return value
    kinds = {list: "a list", dict: "a mapping", type(None): "an empty value"}
    kind = kinds.get(type(value), type(value).__name__)
    raise ValueError(f"a rate-limit setting is a string, number or true/false, not {kind}")


def _profile_keys(profile: dict[str, Any]) -> dict[str, Any]:
    if "profile" in profile:
        raise ValueError('"profile" is reserved: the rateLimits flag names the active profile there')
    return profile


RateLimitProfile = Annotated[
    dict[str, Annotated[Any, AfterValidator(_profile_value)]], AfterValidator(_profile_keys)
]
"""One named set of the managed app's rate-limit settings (any keys, scalar values)."""


class KubernetesSettings(Strict):
    allowed_namespaces: list[str] = Field(default_factory=list)
    context: str | None = None


class Storm(Strict):
    """The storm guard (docs/playbooks.md, Storms): a rule that would open more than ``max_incidents``
    incidents within ``per`` (sliding) opens one storm incident instead, which later alerts join."""

    max_incidents: int = Field(default=25, ge=1)
    per: Duration = 600.0

    @field_validator("per")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("per must be longer than 0s")
        return value


def _storm_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false; both spellings mean the guard is off.
    if value is False or value == "off":
        return "off"
    if not isinstance(value, dict):
        raise ValueError("storm is {max_incidents: N, per: DURATION} or off")
    return value


def _storm_kind(value: Any) -> str:
    return "storm[off]" if value == "off" else "storm[limit]"


# The tags name the branch in pydantic's error locations; the loader drops location parts holding
# "[" (union members), so an error reads `storm.max_incidents`, with one message, not one per branch.
StormSetting = Annotated[
    Annotated[Storm, Tag("storm[limit]")] | Annotated[Literal["off"], Tag("storm[off]")],
    Discriminator(_storm_kind),
    BeforeValidator(_storm_off),
]
"""``{max_incidents, per}``, or ``off``."""


class Flapping(Strict):
    """The flapping brake (docs/playbooks.md, Flapping): an incident key opened more than ``max_opens`` times
    within ``per`` (sliding) runs no playbooks and pages at once, until ``per`` passes with no open."""

    max_opens: int = Field(default=3, ge=1)
    per: Duration = 3600.0

    @field_validator("per")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("per must be longer than 0s")
        return value


def _flapping_off(value: Any) -> Any:
    if value is False or value == "off":
        return "off"
    if not isinstance(value, dict):
        raise ValueError("flapping is {max_opens: N, per: DURATION} or off")
    return value


def _flapping_kind(value: Any) -> str:
    return "flapping[off]" if value == "off" else "flapping[limit]"


FlappingSetting = Annotated[
    Annotated[Flapping, Tag("flapping[limit]")] | Annotated[Literal["off"], Tag("flapping[off]")],
    Discriminator(_flapping_kind),
    BeforeValidator(_flapping_off),
]
"""``{max_opens, per}``, or ``off``."""


class Safety(Strict):
    dry_run: bool = False
    max_actions_per_hour: int = Field(default=30, ge=0)
    storm: StormSetting = Field(default_factory=Storm)
    flapping: FlappingSetting = Field(default_factory=Flapping)


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f'"{name}" is not an environment variable name')
    return name


def _host_entry(entry: str) -> str:
    parse_pattern(entry)  # raises ValueError saying what is wrong
    return entry


class Templates(Strict):
    env: list[Annotated[str, AfterValidator(_env_name)]] = Field(default_factory=list)
    """The only environment variables templates see, as ``env.NAME`` (secrets go in
    http.request headers as ``secret.NAME`` instead)."""


class Http(Strict):
    allowed_hosts: list[Annotated[str, AfterValidator(_host_entry)]] = Field(default_factory=list)
    """Where http.request may go: names or IP literals (any port), host:port, or *.suffix."""


_CLOCK_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


def _clock_time(value: str) -> str:
    if not _CLOCK_TIME.fullmatch(value):
        raise ValueError(f'"{value}" is not a time of day: write HH:MM, like "09:00"')
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone "{value}": use an IANA name like Europe/Berlin') from None
    return value


class Heartbeat(Strict):
    """The dead man's switch: Prometheus' always-firing alert (``Watchdog``) routed here; when it
    stops arriving, the alerting pipeline itself is broken and people are paged."""

    matchers: list[str] = Field(min_length=1)
    """Which alerts are the heartbeat (Alertmanager matcher syntax)."""
    missing_after: Duration = 300.0
    policy: str = "default"
    notify: list[Channel] = Field(default_factory=lambda: list(CHANNELS))

    @field_validator("missing_after")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < 60:
            raise ValueError(
                "missing_after must be at least 1m: Alertmanager re-sends an alert at its repeat_interval"
            )
        return value


class Digest(Strict):
    """A summary of the report posted at fixed times of day (the seed's daily checklist)."""

    at: list[Annotated[str, AfterValidator(_clock_time)]] = Field(min_length=1)
    timezone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    slack: str | None = None
    email: list[str] = Field(default_factory=list)


_SLACK_TEAM = re.compile(r"T[A-Z0-9]{2,}")
_SLACK_WHO = re.compile(r"\*|[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}")


def _slack_team(team_id: str) -> str:
    if not _SLACK_TEAM.fullmatch(team_id):
        raise ValueError(f'"{team_id}" is not a Slack workspace id (T followed by capitals and digits)')
    return team_id


def _slack_who(entry: str) -> str:
    if not _SLACK_WHO.fullmatch(entry):
        raise ValueError(
            f'"{entry}" is not a Slack user id (U… or W…), user-group id (S…) or "*": names change, '
            "ids do not (a profile's ⋮ menu → Copy member ID; a group's id is in its URL)"
        )
    return entry


SlackWho = Annotated[str, AfterValidator(_slack_who)]


class SlackAccess(Strict):
    """Who may click what in Slack (docs/security.md). Clicks by anyone else are refused."""

    team_id: Annotated[str, AfterValidator(_slack_team)] | None = None
    """The workspace clicks must come from; unset: any workspace the app is installed in."""
    ack: list[SlackWho] = Field(default_factory=list)
    """Acknowledge, Resolve and Silence 1h. Empty (the default): nobody from Slack."""
    approve: list[SlackWho] = Field(default_factory=list)
    """Approve a waiting step (and confirm a run). Empty (the default): nobody from Slack."""


class Access(Strict):
    slack: SlackAccess = Field(default_factory=SlackAccess)


class ResponderConfig(Strict):
    """``responder.yaml``."""

    teams: dict[str, Team] = Field(default_factory=dict)
    escalation_policies: dict[str, list[list[str]]] = Field(default_factory=dict)
    rate_limit_profiles: dict[str, RateLimitProfile] = Field(default_factory=dict)
    flags: dict[str, Any] = Field(default_factory=dict)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    safety: Safety = Field(default_factory=Safety)
    templates: Templates = Field(default_factory=Templates)
    http: Http = Field(default_factory=Http)
    digest: Digest | None = None
    heartbeat: Heartbeat | None = None
    access: Access = Field(default_factory=Access)
    public_url: str | None = None
    """Base URL people use to reach the responder; incident links in pages point here."""

    @field_validator("escalation_policies")
    @classmethod
    def _levels_not_empty(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for name, levels in value.items():
            if not levels:
                raise ValueError(f'escalation policy "{name}" has no levels')
            for i, teams in enumerate(levels, start=1):
                if not teams:
                    raise ValueError(f'escalation policy "{name}" level {i} names no team')
        return value


class Escalation(Strict):
    policy: str = "default"
    after: Duration = 300.0
    repeat: bool = False
    """Keep paging the last level every ``after`` until someone acknowledges."""


AutomationLevel = Literal["auto", "confirm", "off"]
"""``auto``: playbooks run; ``confirm``: each run waits for a Run click before its first step;
``off``: nothing runs, the timeline records what would have."""


class Verify(Strict):
    """Closing the loop (docs/playbooks.md): once the rule's playbooks completed, wait ``after``
    and ask Alertmanager whether the incident's alerts still fire."""

    after: Duration
    """How long to give the fix before asking Alertmanager (e.g. the time a rollout needs to show)."""
    else_: list[str] = Field(default_factory=list, alias="else")
    """Playbooks run when the alerts still fire; then one more check ``after`` they completed."""
    page: Literal["always", "on_failure"] = "always"
    """``always``: level 1 is paged at open, as without ``verify``; ``on_failure``: people are paged
    only when automation did not clear it (level 1 then, with what was tried)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("after")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("after must be longer than 0s: Alertmanager needs time to see the fix")
        return value


class Rule(Strict):
    """One entry of a ``rules/*.yaml`` list."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    matchers: list[str] = Field(min_length=1)
    severity: Severity | None = None
    playbooks: list[str] = Field(default_factory=list)
    on_resolved: list[str] = Field(default_factory=list)
    notify: list[Channel] = Field(default_factory=list)
    escalation: Escalation = Field(default_factory=Escalation)
    group_by: list[str] | None = None
    cooldown: Duration = 0.0
    dry_run: bool = False
    continue_: bool = Field(default=False, alias="continue")
    storm: StormSetting | None = None
    """Overrides ``safety.storm`` for this rule (``off`` disables the guard for it)."""
    flapping: FlappingSetting | None = None
    """Overrides ``safety.flapping`` for this rule (``off`` disables the brake for it)."""
    automation: AutomationLevel = "auto"
    verify: Verify | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("verify")
    @classmethod
    def _confirm_is_paged(cls, value: Verify | None, info: ValidationInfo) -> Verify | None:
        # A run waiting for a Run click needs someone to click it: people must be told at open.
        if value is not None and value.page == "on_failure" and info.data.get("automation") == "confirm":
            raise ValueError(
                "page: on_failure cannot hold the page of a rule with automation: confirm: its runs "
                "wait for a Run click, so people are paged at open to give it; use page: always, "
                "or automation: auto"
            )
        return value


class Step(Strict):
    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    timeout: Duration = 60.0
    retries: int = Field(default=0, ge=0, le=10)
    when: str | None = None
    continue_on_error: bool = False
    requires_approval: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Playbook(Strict):
    """One ``playbooks/*.yaml`` file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    steps: list[Step] = Field(min_length=1)
