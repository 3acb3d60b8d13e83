"""The cross-reference pass: names that must exist, matchers, templates, action parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from responder.config import hosts
from responder.config.yamlfile import SourceFile, format_loc
from responder.errors import ConfigIssue, MatcherError
from responder.playbooks import templating
from responder.routing.matchers import parse_matcher

if TYPE_CHECKING:
    from responder.config.loader import LoadedConfig
    from responder.config.models import Playbook, Rule

HEARTBEAT_RULE = "heartbeat"
"""The rule the heartbeat's incident belongs to (``heartbeat`` in responder.yaml, not a rules/ file)."""

ActionCatalog = Mapping[str, type[BaseModel]]
"""Action name -> its params model. Passed in by the caller: actions sit above config."""


def check_references(
    config: LoadedConfig,
    actions: ActionCatalog,
    main: SourceFile | None,
    rules: list[tuple[Rule, SourceFile, int]],
    playbooks: dict[str, SourceFile],
    *,
    names_known: bool = True,
    broken_playbooks: frozenset[str] | set[str] = frozenset(),
) -> list[ConfigIssue]:
    """Every reference that does not resolve, located in the file that makes it.

    ``names_known`` False (responder.yaml did not load) skips references to teams, policies,
    profiles, flags and namespaces; ``broken_playbooks`` are playbooks whose file has its own
    errors. Both would otherwise bury the one real error under reports that are not.
    """
    issues: list[ConfigIssue] = []
    responder = config.responder

    if main is not None and names_known:
        for name, levels in responder.escalation_policies.items():
            for level, teams in enumerate(levels):
                for i, team in enumerate(teams):
                    if team not in responder.teams:
                        issues.append(
                            main.issue(
                                ("escalation_policies", name, level, i),
                                f'undefined team "{team}" used in escalation policy "{name}"',
                            )
                        )

    heartbeat = responder.heartbeat
    if main is not None and heartbeat is not None:
        for i, text in enumerate(heartbeat.matchers):
            try:
                parse_matcher(text)
            except MatcherError as exc:
                issues.append(main.issue(("heartbeat", "matchers", i), str(exc)))
        if names_known and heartbeat.policy not in responder.escalation_policies:
            issues.append(
                main.issue(
                    ("heartbeat", "policy"),
                    f'undefined escalation policy "{heartbeat.policy}" used by heartbeat',
                )
            )
        for rule, source, index in rules:
            if rule.name == HEARTBEAT_RULE:
                issues.append(
                    source.issue(
                        (index, "name"),
                        f'rule name "{HEARTBEAT_RULE}" is the heartbeat\'s own; rename the rule',
                    )
                )

    seen: dict[str, str] = {}
    for rule, source, index in rules:
        base = (index,)
        if rule.name in seen:
            issues.append(
                source.issue((*base, "name"), f'rule "{rule.name}" is already defined in {seen[rule.name]}')
            )
        seen.setdefault(rule.name, source.display)
        for i, text in enumerate(rule.matchers):
            try:
                parse_matcher(text)
            except MatcherError as exc:
                issues.append(source.issue((*base, "matchers", i), str(exc)))
        named: list[tuple[tuple[str | int, ...], str]] = [
            ((field_name, i), name)
            for field_name in ("playbooks", "on_resolved")
            for i, name in enumerate(getattr(rule, field_name))
        ]
        if rule.verify is not None:
            named += [(("verify", "else", i), name) for i, name in enumerate(rule.verify.else_)]
        for where, name in named:
            if name not in config.playbooks and name not in broken_playbooks:
                issues.append(
                    source.issue((*base, *where), f'undefined playbook "{name}" used in rule "{rule.name}"')
                )
        policy = rule.escalation.policy
        if names_known and rule.notify and policy not in responder.escalation_policies:
            issues.append(
                source.issue(
                    (*base, "escalation", "policy"),
                    f'undefined escalation policy "{policy}" used in rule "{rule.name}"',
                )
            )

    for name, playbook in config.playbooks.items():
        issues += _check_playbook(config, actions, playbook, playbooks[name], names_known)
    return issues


def _check_playbook(
    config: LoadedConfig, actions: ActionCatalog, playbook: Playbook, source: SourceFile, names_known: bool
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for index, step in enumerate(playbook.steps):
        base: tuple[str | int, ...] = ("steps", index)
        params = actions.get(step.action)
        if params is None:
            known = ", ".join(sorted(actions))
            issues.append(source.issue((*base, "action"), f'unknown action "{step.action}" (known: {known})'))
            continue
        for loc, text in _strings(step.with_, (*base, "with")):
            error = templating.check_syntax(text)
            if error:
                issues.append(source.issue(loc, error))
            in_headers = step.action == templating.SECRET_ACTION and loc[len(base) + 1 : -1] == ("headers",)
            issues += _check_names_used(
                config, templating.names_used(text), in_headers, source, loc, names_known
            )
        if step.when is not None:
            error = templating.check_condition_syntax(step.when)
            if error:
                issues.append(source.issue((*base, "when"), error))
            used = templating.names_used(step.when, expression=True)
            issues += _check_names_used(config, used, False, source, (*base, "when"), names_known)
        try:
            params.model_validate(step.with_)
        except ValidationError as exc:
            for err in exc.errors():
                if templating.is_template(err.get("input")):
                    continue  # a templated value is checked when it is rendered
                loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
                if err["type"] == "extra_forbidden":
                    known = ", ".join(f.alias or n for n, f in params.model_fields.items())
                    message = f'unknown parameter "{loc[-1]}" for action {step.action} (known: {known})'
                elif err["type"] == "missing":
                    message = f'missing parameter "{loc[-1]}" for action {step.action}'
                else:
                    message = f"{str(err['msg']).removeprefix('Value error, ')} (action {step.action})"
                issues.append(source.issue((*base, "with", *loc), message))
        if names_known:
            issues += _check_names(config, step.action, step.with_, source, (*base, "with"))
        if names_known and step.action == templating.SECRET_ACTION:
            issues += _check_url(config, step.with_.get("url"), source, (*base, "with", "url"))
    return issues


def _check_names_used(
    config: LoadedConfig,
    used: templating.NamesUsed | None,
    in_headers: bool,
    source: SourceFile,
    loc: tuple[str | int, ...],
    names_known: bool,
) -> list[ConfigIssue]:
    """``secret`` outside http.request headers, and ``env.NAME`` not listed in templates.env."""
    if used is None:
        return []  # a syntax error, reported on its own
    issues: list[ConfigIssue] = []
    if used.uses_secret and not in_headers:
        issues.append(
            source.issue(
                loc,
                "secret.NAME is only available in http.request header values: secrets never reach a "
                "timeline, message or page",
            )
        )
    listed = config.responder.templates.env
    for name in sorted(used.env - set(listed)) if names_known else []:
        issues.append(
            source.issue(
                loc,
                f"env.{name} is not in templates.env of responder.yaml (templates see only those "
                f"variables{': ' + ', '.join(listed) if listed else ', and it lists none'})",
            )
        )
    return issues


def _check_url(
    config: LoadedConfig, url: Any, source: SourceFile, loc: tuple[str | int, ...]
) -> list[ConfigIssue]:
    """A URL whose host is written literally must be in http.allowed_hosts (a templated one is
    checked when rendered)."""
    if not isinstance(url, str):
        return []
    allowed = config.responder.http.allowed_hosts
    listed = ", ".join(allowed) if allowed else "none"
    literal = url
    for marker in ("{{", "{%"):
        literal = literal.split(marker, 1)[0]
    scheme, sep, rest = literal.partition("://")
    if not sep:
        return []
    authority_ends = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=-1)
    if literal != url and authority_ends < 0:
        # The authority itself is templated; only a literal host before a templated port can be checked.
        host, colon, _ = rest.rpartition(":")
        if not colon or ("[" in rest and not host.endswith("]")):
            return []
        name = hosts.normalize_host(host)
        if hosts.allowed_on_some_port(allowed, name):
            return []
        return [
            source.issue(
                loc, f'host "{host}" is not in http.allowed_hosts of responder.yaml (allowed: {listed})'
            )
        ]
    target = hosts.url_host(literal if literal == url else f"{scheme}://{rest[:authority_ends]}/")
    if target is None:
        return [source.issue(loc, "url must be an absolute http(s) URL without credentials (user:password@)")]
    host, port = target
    if hosts.allowed(allowed, host, port):
        return []
    shown = f"[{host}]" if ":" in host else host
    return [
        source.issue(
            loc, f'host "{shown}:{port}" is not in http.allowed_hosts of responder.yaml (allowed: {listed})'
        )
    ]


def _check_names(
    config: LoadedConfig, action: str, params: dict[str, Any], source: SourceFile, base: tuple[str | int, ...]
) -> list[ConfigIssue]:
    """Names that must exist in responder.yaml, when written literally."""
    responder = config.responder
    flag = params.get("flag")
    if (
        action == "flags.set"
        and isinstance(flag, str)
        and not templating.is_template(flag)
        and flag not in responder.flags
        and flag != "rateLimits"
    ):
        return [
            source.issue((*base, "flag"), f'undefined flag "{flag}": add it to `flags` in responder.yaml')
        ]
    profile = params.get("profile")
    if (
        action == "ratelimit.set_profile"
        and isinstance(profile, str)
        and not templating.is_template(profile)
        and profile not in responder.rate_limit_profiles
    ):
        return [source.issue((*base, "profile"), f'undefined rate-limit profile "{profile}"')]
    namespace = params.get("namespace")
    if (
        action.startswith("kubernetes.")
        and isinstance(namespace, str)
        and not templating.is_template(namespace)
        and namespace not in responder.kubernetes.allowed_namespaces
    ):
        return [
            source.issue(
                (*base, "namespace"),
                f'namespace "{namespace}" is not in kubernetes.allowed_namespaces of responder.yaml'
                f" (allowed: {', '.join(responder.kubernetes.allowed_namespaces) or 'none'})",
            )
        ]
    return []


def _strings(value: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, (*loc, k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, (*loc, i))]
    return []


def access_warnings(
    config: LoadedConfig, main: SourceFile | None, playbooks: dict[str, SourceFile]
) -> list[str]:
    """Legal configs that leave Slack's buttons to nobody, or to anybody (``access.slack``).

    - a ``requires_approval`` step while ``access.slack.approve`` is empty: only the API, the
      CLI and the dashboard can approve it, and its Approve button in Slack refuses everyone;
    - rules page through Slack while ``access.slack.ack`` is empty: Acknowledge, Resolve and
      Silence 1h refuse everyone;
    - ``"*"`` without ``team_id``: anyone the app's buttons reach may click, guests from other
      workspaces (Slack Connect) included.
    """
    rules = config.responder.access.slack
    warnings: list[str] = []
    if not rules.approve:
        for name, playbook in config.playbooks.items():
            for index, step in enumerate(playbook.steps):
                if step.requires_approval:
                    issue = playbooks[name].issue(
                        ("steps", index, "requires_approval"),
                        "requires_approval, but nobody may approve from Slack (access.slack.approve "
                        "in responder.yaml is empty): only `responder approve`, the API and the "
                        "dashboard can",
                    )
                    warnings.append(str(issue))
    if main is None:
        return warnings
    if not rules.ack and any("slack" in rule.notify for rule in config.rules):
        message = (
            "rules page through Slack, but nobody may click Acknowledge, Resolve or Silence 1h there: "
            'list user ids, user-group ids or "*" in access.slack.ack'
        )
        warnings.append(_in_main(main, ("access", "slack", "ack"), message))
    for permission in ("ack", "approve"):
        if "*" in getattr(rules, permission) and rules.team_id is None:
            message = (
                f'"*" in access.slack.{permission} without access.slack.team_id lets anyone who sees '
                "the buttons click them, guests from other workspaces included: set team_id"
            )
            warnings.append(_in_main(main, ("access", "slack", permission), message))
    return warnings


def _in_main(main: SourceFile, loc: tuple[str, ...], message: str) -> str:
    """Located at ``loc``, or at no line when responder.yaml has no ``access`` (not at its first key)."""
    if ("access",) in main.lines:
        return str(main.issue(loc, message))
    return str(ConfigIssue(main.display, None, format_loc(loc), message))
