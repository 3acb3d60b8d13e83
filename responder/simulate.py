"""``responder simulate``: what a payload would do, computed from the config alone (no Redis, no sends).

``storm_at=N`` asks what happens to each alert when it is the N-th new incident of its
rule within the rule's storm window: at N beyond the limit it opens (the first beyond)
or joins the rule's storm incident instead of opening its own.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from responder.actions import registry
from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Rule
from responder.errors import TemplateError
from responder.plan import Facts, Page, plan_alert, plan_resolution, storm_key, storm_limit
from responder.plan.storm import describe
from responder.playbooks import templating
from responder.redact import redact
from responder.routing.routes import compile_rules, route
from responder.webhook.models import WebhookPayload


def plan_payload(config: LoadedConfig, body: bytes, storm_at: int | None = None) -> dict[str, Any]:
    """What ``body`` would do on a quiet system (nothing paused, no cooldown, budget unused), or
    with ``storm_at``, as the ``storm_at``-th new incident of its rule within the storm window.

    Raises ValueError when ``body`` is not a version-4 webhook payload.
    """
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise ValueError(f"not an Alertmanager webhook payload (version 4): {problems}") from None
    rules = compile_rules(config.rules)
    alerts = []
    for alert in payload.alerts:
        data = alert.model_dump()
        matched = route(rules, alert.labels)
        entry: dict[str, Any] = {
            "alert": alert.labels.get("alertname", alert.fingerprint),
            "status": alert.status,
            "fingerprint": alert.fingerprint,
            "rules": [],
        }
        for compiled in matched:
            facts = _facts(config, compiled.rule, storm_at)
            plan = plan_alert(config, compiled.rule, alert.labels, payload.groupKey, facts)
            firing = alert.status == "firing"
            automation = plan.automation if firing else plan_resolution(config, compiled.rule, Facts())
            incident = {
                "id": "(new)",
                "key": plan.incident_key,
                "severity": plan.severity,
                "rule": compiled.rule.name,
                "status": "triggered",
            }
            entry["rules"].append(
                {
                    "rule": compiled.rule.name,
                    "incident_key": plan.incident_key,
                    "group": plan.group,
                    "severity": plan.severity,
                    "dry_run": automation.dry_run,
                    "cooldown": format_duration(plan.cooldown),
                    "playbooks": [
                        _playbook(config, name, data, incident)
                        for name in automation.playbooks
                        if automation.runs
                    ],
                    "playbooks_held": automation.held,
                    "escalation": [_page(page) for page in plan.pages] if firing else [],
                    "storm": _storm(
                        config, compiled.rule, plan.storm is not None, plan.opens, storm_at, firing
                    ),
                }
            )
        alerts.append(entry)
    return {"receiver": payload.receiver, "groupKey": payload.groupKey, "alerts": alerts}


def _facts(config: LoadedConfig, rule: Rule, storm_at: int | None) -> Facts:
    """A quiet system, or one where ``storm_at - 1`` new incidents of ``rule`` came before this alert
    (with the storm incident already open once more than the limit did)."""
    if storm_at is None:
        return Facts()
    limit = storm_limit(config, rule)
    before = max(storm_at - 1, 0)
    open_storm = limit is not None and before > limit.max_incidents
    return Facts(rule_opens=before, storm_incident="(open)" if open_storm else None)


def _storm(
    config: LoadedConfig, rule: Rule, storm: bool, opens: bool, storm_at: int | None, firing: bool
) -> dict[str, Any]:
    """The rule's storm guard, and where a firing alert goes under it."""
    limit = storm_limit(config, rule)
    out: dict[str, Any] = {"limit": describe(limit)}
    if limit is not None:
        out["storm_incident"] = storm_key(rule.name)
        out["from_alert"] = limit.max_incidents + 1
    if storm_at is not None and firing:
        out["at_alert"] = storm_at
        if not storm:
            out["outcome"] = "opens its own incident" if opens else "joins its open incident"
        else:
            out["outcome"] = (
                "opens the storm incident" if opens else "joins the open storm incident: no page, no playbook"
            )
    return out


def _page(page: Page) -> dict[str, Any]:
    return {
        "level": page.level,
        "at": format_duration(page.due_in),
        "teams": list(page.teams),
        "channels": list(page.channels),
    }


def _playbook(
    config: LoadedConfig, name: str, alert: dict[str, Any], incident: dict[str, Any]
) -> dict[str, Any]:
    playbook = config.playbooks[name]
    context = templating.template_context(alert, incident, config.responder.templates.env)
    steps = []
    for index, step in enumerate(playbook.steps, start=1):
        out: dict[str, Any] = {
            "step": index,
            "action": step.action,
            "timeout": format_duration(step.timeout),
            "retries": step.retries,
        }
        secrets: tuple[str, ...] = ()
        try:
            if step.when is not None:
                out["when"] = step.when
                out["runs"] = templating.evaluate_condition(step.when, context)
            rendered = templating.render_step_params(step.action, step.with_, context, environ=os.environ)
            secrets = rendered.secrets
            action = registry.get(step.action)
            if action is not None:
                action.params.model_validate(rendered.params)
            out["with"] = redact(rendered.params, rendered.secrets)
        except (TemplateError, ValidationError) as exc:
            out["error"] = redact(str(exc), secrets)
        if step.requires_approval:
            out["requires_approval"] = True
        steps.append(out)
    return {"playbook": name, "steps": steps}


def render_text(result: dict[str, Any]) -> str:
    lines = [f"payload for receiver {result['receiver']} ({len(result['alerts'])} alerts)"]
    for alert in result["alerts"]:
        lines.append(f"\n{alert['alert']} [{alert['status']}] fingerprint {alert['fingerprint']}")
        if not alert["rules"]:
            lines.append("  no rule matches: recorded as unmatched, nobody is told")
        for item in alert["rules"]:
            dry = " (dry run)" if item["dry_run"] else ""
            lines.append(
                f"  rule {item['rule']} -> incident {item['incident_key']}, severity {item['severity']}{dry}"
            )
            lines += _storm_lines(item["storm"])
            if item["playbooks_held"]:
                lines.append(f"    playbooks not run: {item['playbooks_held']}")
            for pb in item["playbooks"]:
                lines.append(f"    playbook {pb['playbook']}")
                for step in pb["steps"]:
                    params = step.get("with", {})
                    text = ", ".join(f"{k}={v!r}" for k, v in params.items())
                    extra = ""
                    if "runs" in step:
                        extra += f" when {step['when']} -> {'runs' if step['runs'] else 'skipped'}"
                    if step.get("requires_approval"):
                        extra += " (waits for approval)"
                    if "error" in step:
                        extra += f"  ERROR: {step['error']}"
                    lines.append(f"      {step['step']}. {step['action']}({text}){extra}")
            for level in item["escalation"]:
                lines.append(
                    f"    at +{level['at']}: level {level['level']} -> {', '.join(level['teams'])} "
                    f"via {', '.join(level['channels'])} (unless acknowledged)"
                )
    return "\n".join(lines)


def _storm_lines(storm: dict[str, Any]) -> list[str]:
    if "storm_incident" not in storm:
        return ["    storm guard: off"]
    lines = [
        f"    storm guard: {storm['limit']}: from new incident {storm['from_alert']} of the rule within that"
        f" window, alerts go to incident {storm['storm_incident']} (it pages once; no playbooks run for them)"
    ]
    if "outcome" in storm:
        lines.append(f"    as new incident {storm['at_alert']} within the window: {storm['outcome']}")
    return lines
