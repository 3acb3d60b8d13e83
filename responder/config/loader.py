"""Load a config directory strictly, with file:line for every error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from responder.config.durations import format_duration
from responder.config.models import Playbook, ResponderConfig, Rule
from responder.config.references import HEARTBEAT_RULE, ActionCatalog, access_warnings, check_references
from responder.config.yamlfile import Loc, SourceFile, load_yaml
from responder.errors import ConfigError, ConfigIssue


@dataclass(frozen=True)
class LoadedConfig:
    """A whole config directory, loaded and cross-checked, with the lookups the rest of the code needs."""

    directory: Path
    responder: ResponderConfig
    rules: list[Rule]
    playbooks: dict[str, Playbook]
    warnings: list[str] = field(default_factory=list)

    def rule(self, name: str) -> Rule | None:
        if name == HEARTBEAT_RULE:
            return self.heartbeat_rule()
        return next((r for r in self.rules if r.name == name), None)

    def heartbeat_rule(self) -> Rule | None:
        """The rule of the heartbeat's incident ("alerting pipeline silent"), from ``heartbeat``."""
        heartbeat = self.responder.heartbeat
        if heartbeat is None:
            return None
        # Durations are validated from their spelling (a bare number is refused), so spell it.
        after = format_duration(heartbeat.missing_after)
        return Rule.model_validate(
            {
                "name": HEARTBEAT_RULE,
                "matchers": heartbeat.matchers,
                "severity": "critical",
                "notify": heartbeat.notify,
                "escalation": {"policy": heartbeat.policy, "after": after},
                "storm": "off",
                "flapping": "off",
            }
        )

    def levels(self, rule: Rule) -> list[list[str]]:
        """The teams of each escalation level of ``rule``'s policy; none when the rule pages nobody."""
        if not rule.notify:
            return []
        return self.responder.escalation_policies.get(rule.escalation.policy) or []

    def dry_run(self, rule: Rule | None = None) -> bool:
        """Whether actions only record what they would do: globally, or for ``rule``."""
        return self.responder.safety.dry_run or (rule is not None and rule.dry_run)

    def incident_url(self, incident_id: str) -> str | None:
        """Where people open an incident (from ``public_url``): its dashboard page, linked from pages."""
        base = self.responder.public_url
        return f"{base.rstrip('/')}/ui/incidents/{incident_id}" if base else None


@dataclass(frozen=True)
class ConfigChoice:
    """The config directory a command runs on, and why that one: printed, so the choice is never silent."""

    directory: Path
    reason: str

    def __str__(self) -> str:
        return f"config: {self.directory.resolve()} ({self.reason})"


def choose_directory(option: Path | str | None = None) -> ConfigChoice:
    """``--config``, else ``RESPONDER_CONFIG_DIR``, else the current directory when it has
    a responder.yaml, else the defaults the project ships."""
    if option:
        return ConfigChoice(Path(option), "--config")
    configured = os.environ.get("RESPONDER_CONFIG_DIR")
    if configured:
        return ConfigChoice(Path(configured), "RESPONDER_CONFIG_DIR")
    if Path("responder.yaml").exists():
        return ConfigChoice(Path("."), "the current directory has a responder.yaml")
    return ConfigChoice(builtin_defaults(), "built-in defaults: no responder.yaml in the current directory")


def default_directory() -> Path:
    """The directory :func:`choose_directory` picks when no ``--config`` is given."""
    return choose_directory().directory


def builtin_defaults() -> Path:
    """The default config the project ships (the repository's top-level rules/, playbooks/, responder.yaml).

    An installed wheel carries them inside the package as ``responder/defaults/`` (pyproject.toml's
    force-include); a source checkout or editable install imports ``responder`` from the checkout,
    where they sit at the top level beside the package.
    """
    packaged = resources.files("responder") / "defaults"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2]


def load_config(
    directory: Path | str, actions: ActionCatalog, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load and cross-check ``directory``; ``actions`` maps action names to their params models
    (:data:`responder.actions.registry.CATALOG`), so steps are checked against them.

    Raises:
        ConfigError: with every issue found, each with file, line and key path.
    """
    directory = Path(directory)
    issues: list[ConfigIssue] = []
    warnings: list[str] = []
    if not directory.is_dir():
        raise ConfigError([ConfigIssue(str(directory), None, "", "config directory does not exist")])

    def display(path: Path) -> str:
        try:
            return str(path.relative_to(directory))
        except ValueError:
            return str(path)

    main_path = directory / "responder.yaml"
    responder = ResponderConfig()
    main_source: SourceFile | None = None
    if main_path.exists():
        main_source, found = load_yaml(main_path, display(main_path), env)
        issues += found
        if not found:
            model = _validate(ResponderConfig, main_source.data or {}, main_source, (), issues)
            if model is not None:
                responder = model
        warnings += _unset_warnings(main_source)
        warnings += _profile_warnings(main_source, responder)
    else:
        issues.append(
            ConfigIssue(display(main_path), None, "", "file not found: every config directory needs one")
        )
    # Names defined in a responder.yaml that did not load are unknown, not undefined:
    # checking references against the empty stand-in would report every one of them.
    names_known = main_source is not None and not issues

    rules: list[Rule] = []
    rule_sources: list[tuple[Rule, SourceFile, int]] = []
    for path in sorted((directory / "rules").glob("*.y*ml")):
        source, found = load_yaml(path, display(path), env)
        issues += found
        warnings += _unset_warnings(source)
        if found or source.data is None:
            continue
        if not isinstance(source.data, list):
            issues.append(source.issue((), "a rules file holds a list of rules"))
            continue
        for i, item in enumerate(source.data):
            rule = _validate(Rule, item, source, (i,), issues)
            if rule is not None:
                rules.append(rule)
                rule_sources.append((rule, source, i))

    playbooks: dict[str, Playbook] = {}
    playbook_sources: dict[str, SourceFile] = {}
    broken: set[str] = set()
    """Playbooks that exist but did not load; rules naming them are not told they are undefined."""
    # A playbook is rendered into timelines and messages, so ${VAR} in it may read only what
    # templates may (templates.env); otherwise it would be a way around that list.
    environ = os.environ if env is None else env
    listed = set(responder.templates.env)
    playbook_env = {name: value for name, value in environ.items() if name in listed}
    for path in sorted((directory / "playbooks").glob("*.y*ml")):
        source, found = load_yaml(path, display(path), playbook_env)
        issues += found
        hidden = [(name, loc) for name, loc in source.unset_vars if name not in listed]
        issues += [
            source.issue(
                loc,
                f"${{{name}}} is not in templates.env of responder.yaml: playbooks see only those variables "
                "(a secret goes in an http.request header as {{ secret." + name + " }})",
            )
            for name, loc in hidden
        ]
        source.unset_vars = [(name, loc) for name, loc in source.unset_vars if name in listed]
        warnings += _unset_warnings(source)
        if found or source.data is None:
            broken.add(path.stem)  # one playbook per file, named after it by convention
            continue
        playbook = _validate(Playbook, source.data, source, (), issues)
        if playbook is None:
            name = source.data.get("name") if isinstance(source.data, dict) else None
            broken.add(name if isinstance(name, str) else path.stem)
            continue
        if playbook.name in playbooks:
            other = playbook_sources[playbook.name].display
            issues.append(
                source.issue(("name",), f'playbook "{playbook.name}" is already defined in {other}')
            )
            continue
        playbooks[playbook.name] = playbook
        playbook_sources[playbook.name] = source

    for rule, source, index in rule_sources:
        if (rule.playbooks or rule.on_resolved) and not rule.notify:
            # Legal (automation-only rules), but a failing step or a spent budget then tells nobody.
            line = source.line_of((index,))
            warnings.append(
                f"{source.display}:{line}: rule {rule.name} runs playbooks but has no `notify` channels: "
                "if a step fails, nobody is paged"
            )
    config = LoadedConfig(directory, responder, rules, playbooks, warnings)
    warnings += access_warnings(config, main_source if names_known else None, playbook_sources)
    issues += check_references(
        config,
        actions,
        main_source,
        rule_sources,
        playbook_sources,
        names_known=names_known,
        broken_playbooks=broken,
    )
    if issues:
        raise ConfigError(issues)
    return config


def _unset_warnings(source: SourceFile) -> list[str]:
    return [
        str(source.issue(loc, f"${{{name}}} is not set; it expands to an empty string"))
        for name, loc in source.unset_vars
    ]


def _profile_warnings(source: SourceFile, responder: ResponderConfig) -> list[str]:
    # ratelimit.set_profile replaces the whole rateLimits flag, so a key one profile sets and
    # another lacks is dropped from the flag when switching to the one that lacks it.
    profiles = responder.rate_limit_profiles
    every_key = list(dict.fromkeys(key for values in profiles.values() for key in values))
    gaps = []
    for key in every_key:
        have = [name for name, values in profiles.items() if key in values]
        lack = [name for name in profiles if name not in have]
        if lack:
            gaps.append(f"{key} is in {', '.join(have)} but not {', '.join(lack)}")
    if not gaps:
        return []
    message = (
        "profiles disagree on their keys; switching to a profile without a key drops that setting "
        "from the rateLimits flag: " + "; ".join(gaps)
    )
    return [str(source.issue(("rate_limit_profiles",), message))]


M = TypeVar("M", bound=BaseModel)


def _validate(
    model: type[M], data: Any, source: SourceFile, base: Loc, issues: list[ConfigIssue]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues += [source.issue((*base, *_clean_loc(err["loc"])), _message(err)) for err in exc.errors()]
        return None


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic puts the union member or function name in the location; people never wrote those.
    return tuple(
        p for p in loc if isinstance(p, int) or not (str(p).startswith("function-") or "[" in str(p))
    )


def _message(err: Any) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        return f'unknown key "{loc[-1]}"'
    if kind == "missing":
        return f'missing required key "{loc[-1]}"'
    value = err.get("input")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if isinstance(value, str | int | float | bool) and kind not in ("value_error",):
        return f"{msg} (got {value!r})"
    return msg
