"""``responder simulate``: what a payload would do, computed from the config alone (no Redis, no sends)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from responder.actions import registry
from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.errors import TemplateError
from responder.plan import Facts, Page, plan_alert, plan_resolution
from responder.playbooks import templating
from responder.redact import redact
from responder.routing.routes import compile_rules, route
from responder.webhook.models import WebhookPayload


def plan_payload(config: LoadedConfig, body: bytes) -> dict[str, Any]:
    """What ``body`` would do on a quiet system (nothing paused, no cooldown, budget unused).

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
            plan = plan_alert(config, compiled.rule, alert.labels, payload.groupKey, Facts())
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
                    "playbooks": [_playbook(config, name, data, incident) for name in automation.playbooks],
                    "escalation": [_page(page) for page in plan.pages] if firing else [],
                }
            )
        alerts.append(entry)
    return {"receiver": payload.receiver, "groupKey": payload.groupKey, "alerts": alerts}


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
