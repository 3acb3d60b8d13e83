"""``responder simulate``: what a payload would do, computed from the config alone (no Redis, no sends).

Per matched rule it shows the incident key, the automation level, the playbooks with their
rendered steps, verification (``verify``: when Alertmanager is asked, what runs next, who is
paged and when), the flapping brake and the storm guard, and the escalation.

``storm_at=N`` asks what happens to each alert when it is the N-th new incident of its
rule within the rule's storm window: at N beyond the limit it opens (the first beyond)
or joins the rule's storm incident instead of opening its own. ``opens=N`` asks what
happens when the alert opens its incident key for the N-th time within the rule's
flapping window: beyond the limit no playbook runs and level 1 is paged at once.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from responder.actions import registry
from responder.config.durations import format_duration
from responder.config.loader import LoadedConfig
from responder.config.models import Rule
from responder.errors import TemplateError
from responder.plan import (
    Facts,
    Page,
    ResponsePlan,
    flapping_limit,
    plan_alert,
    plan_resolution,
    storm_key,
    storm_limit,
)
from responder.plan.flapping import describe as describe_flapping
from responder.plan.storm import describe
from responder.playbooks import templating
from responder.redact import redact
from responder.routing.routes import compile_rules, route
from responder.webhook.models import WebhookPayload


def plan_payload(
    config: LoadedConfig, body: bytes, storm_at: int | None = None, opens: int | None = None
) -> dict[str, Any]:
    """What ``body`` would do on a quiet system (nothing paused, no cooldown, budget unused), or
    with ``storm_at``, as the ``storm_at``-th new incident of its rule within the storm window,
    or with ``opens``, as the ``opens``-th open of its incident key within the flapping window.

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
            facts = _facts(config, compiled.rule, storm_at, opens)
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
                    "automation": compiled.rule.automation,
                    "playbooks": [
                        _playbook(config, name, data, incident, automation.confirm)
                        for name in automation.playbooks
                        if automation.runs
                    ],
                    "playbooks_held": automation.held,
                    "verify": _verify(config, compiled.rule, plan, data, incident) if firing else None,
                    "escalation": [_page(page, plan.hold_pages) for page in plan.pages] if firing else [],
                    "flapping": _flapping(config, compiled.rule, plan, opens, firing),
                    "storm": _storm(
                        config, compiled.rule, plan.storm is not None, plan.opens, storm_at, firing
                    ),
                }
            )
        alerts.append(entry)
    return {"receiver": payload.receiver, "groupKey": payload.groupKey, "alerts": alerts}


def _facts(config: LoadedConfig, rule: Rule, storm_at: int | None, opens: int | None) -> Facts:
    """A quiet system, or one where ``storm_at - 1`` new incidents of ``rule`` came before this alert
    (with the storm incident already open once more than the limit did), or where its incident key
    opened ``opens - 1`` times before within the flapping window."""
    facts = Facts()
    if storm_at is not None:
        limit = storm_limit(config, rule)
        before = max(storm_at - 1, 0)
        open_storm = limit is not None and before > limit.max_incidents
        facts = replace(facts, rule_opens=before, storm_incident="(open)" if open_storm else None)
    if opens is not None:
        facts = replace(facts, key_opens=tuple(0.0 for _ in range(max(opens - 1, 0))))
    return facts


def _verify(
    config: LoadedConfig, rule: Rule, plan: ResponsePlan, alert: dict[str, Any], incident: dict[str, Any]
) -> dict[str, Any] | None:
    """The rule's verification, and whether it runs for this alert (not when nothing runs to verify)."""
    if rule.verify is None:
        return None
    return {
        "after": format_duration(rule.verify.after),
        "else": [
            _playbook(config, name, alert, incident, rule.automation == "confirm")
            for name in rule.verify.else_
        ],
        "page": rule.verify.page,
        "applies": plan.verify is not None,
        "holds_level_1": plan.hold_pages,
    }


def _flapping(
    config: LoadedConfig, rule: Rule, plan: ResponsePlan, opens: int | None, firing: bool
) -> dict[str, Any]:
    """The rule's flapping brake, and what this alert's open does under it."""
    limit = flapping_limit(config, rule)
    out: dict[str, Any] = {"limit": describe_flapping(limit)}
    if plan.storm is not None:
        out["storm"] = True  # the storm incident's members open no incidents of their own
        return out
    if limit is not None:
        out["from_open"] = limit.max_opens + 1
    if opens is not None and firing:
        out["at_open"] = opens
        out["outcome"] = (
            "flapping: no playbook runs, level 1 is paged at once"
            if plan.flapping is not None
            else "acts as usual"
        )
    return out


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


def _page(page: Page, held: bool) -> dict[str, Any]:
    """One level; ``held`` (``verify.page: on_failure``): due that long after a failed verdict instead."""
    out = {
        "level": page.level,
        "at": format_duration(page.due_in),
        "teams": list(page.teams),
        "channels": list(page.channels),
    }
    if held:
        out["after_failed_verification"] = True
    return out


def _playbook(
    config: LoadedConfig, name: str, alert: dict[str, Any], incident: dict[str, Any], confirm: bool = False
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
    return {"playbook": name, "steps": steps, **({"waits_for_run_click": True} if confirm else {})}


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
            lines.append(f"    automation: {item['automation']}" + _LEVELS[item["automation"]])
            lines += _storm_lines(item["storm"])
            if alert["status"] == "firing":  # only an open counts toward the brake
                lines += _flapping_lines(item["flapping"])
            if item["playbooks_held"]:
                lines.append(f"    playbooks not run: {item['playbooks_held']}")
            for pb in item["playbooks"]:
                lines += _playbook_lines(pb, "    ")
            if item["verify"] is not None:
                lines += _verify_lines(item["verify"])
            for level in item["escalation"]:
                when = (
                    f"+{level['at']} after a failed verdict"
                    if level.get("after_failed_verification")
                    else (f"at +{level['at']}")
                )
                lines.append(
                    f"    {when}: level {level['level']} -> {', '.join(level['teams'])} "
                    f"via {', '.join(level['channels'])} (unless acknowledged)"
                )
    return "\n".join(lines)


_LEVELS = {
    "auto": " (playbooks run at open)",
    "confirm": " (each run waits for a Run click: Slack, dashboard or `responder approve RUN_ID`; 1h)",
    "off": " (nothing runs; the timeline records what would have)",
}


def _playbook_lines(pb: dict[str, Any], indent: str) -> list[str]:
    waits = " (waits for a Run click)" if pb.get("waits_for_run_click") else ""
    lines = [f"{indent}playbook {pb['playbook']}{waits}"]
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
        lines.append(f"{indent}  {step['step']}. {step['action']}({text}){extra}")
    return lines


def _verify_lines(verify: dict[str, Any]) -> list[str]:
    after = verify["after"]
    if not verify["applies"]:
        return [f"    verify ({after}): not for this open: no playbook runs, so there is nothing to verify"]
    lines = [
        f"    verify: {after} after the playbooks complete, ask Alertmanager whether the alerts still fire"
    ]
    if verify["else"]:
        lines.append(f"    still firing: run these, then ask again {after} after they complete:")
        for pb in verify["else"]:
            lines += _playbook_lines(pb, "      ")
    lines.append("    still firing: page the next escalation level at once, with what was tried")
    if verify["holds_level_1"]:
        lines.append("    page: on_failure: nobody is paged unless automation does not clear it")
    return lines


def _flapping_lines(flapping: dict[str, Any]) -> list[str]:
    if flapping.get("storm"):
        return ["    flapping brake: does not apply to the storm incident's member alerts"]
    if "from_open" not in flapping:
        return ["    flapping brake: off"]
    lines = [
        f"    flapping brake: {flapping['limit']}: from open {flapping['from_open']} of the incident key "
        "within that window, no playbook runs and level 1 is paged at once"
    ]
    if "outcome" in flapping:
        lines.append(f"    as open {flapping['at_open']} within the window: {flapping['outcome']}")
    return lines


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
