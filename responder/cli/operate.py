"""Commands that operate a running responder through its HTTP API: incidents, approvals, flags,
the kill switch and the report (``RESPONDER_URL``, ``RESPONDER_API_TOKEN``)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from responder.cli.base import API_URL, call_api, incident_id_param, main, run_id_param, url_option


@main.group()
def incidents() -> None:
    """List, show, acknowledge and resolve incidents."""


@incidents.command("list")
@url_option
@click.option("--status", type=click.Choice(["triggered", "acknowledged", "resolved"]))
@click.option("--json", "as_json", is_flag=True)
def incidents_list(url: str | None, status: str | None, as_json: bool) -> None:
    data = call_api("GET", "/api/incidents" + (f"?status={status}" if status else ""), url=url)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    rows = data["incidents"]
    if not rows:
        click.echo("no incidents")
    for inc in rows:
        click.echo(
            f"{inc['id']}  {inc['status']:<12}  {inc['severity']:<8}  {inc['created_at']}  "
            f"{inc['rule']}: {inc.get('summary', '')}"
        )


@incidents.command("show")
@url_option
@click.argument("incident_id", callback=incident_id_param)
@click.option("--json", "as_json", is_flag=True)
def incidents_show(url: str | None, incident_id: str, as_json: bool) -> None:
    data = call_api("GET", f"/api/incidents/{incident_id}", url=url)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['id']}  {data['status']}  {data['severity']}  rule {data['rule']}")
    click.echo(f"  {data.get('summary', '')}")
    for entry in data["timeline"]:
        click.echo(f"  {entry['at']}  {entry['kind']:<22}  {entry['message']}")


def _who(by: str | None) -> str:
    return by or os.environ.get("USER") or "cli"


def _transition(action: str, url: str | None, incident_id: str, by: str | None) -> None:
    data = call_api("POST", f"/api/incidents/{incident_id}/{action}", {"by": _who(by)}, url=url)
    click.echo(f"{incident_id}: {data['incident']['status']}" + ("" if data["changed"] else " (unchanged)"))


@incidents.command("ack")
@url_option
@click.argument("incident_id", callback=incident_id_param)
@click.option("--by", help="Who acknowledges (default: $USER).")
def incidents_ack(url: str | None, incident_id: str, by: str | None) -> None:
    """Acknowledge: escalation stops for good, PagerDuty is acknowledged, Slack shows who."""
    _transition("ack", url, incident_id, by)


@incidents.command("resolve")
@url_option
@click.argument("incident_id", callback=incident_id_param)
@click.option("--by", help="Who resolves (default: $USER).")
def incidents_resolve(url: str | None, incident_id: str, by: str | None) -> None:
    """Resolve by hand: timers void, on_resolved playbooks run, Slack and PagerDuty updated."""
    _transition("resolve", url, incident_id, by)


@main.command()
@url_option
@click.argument("run_id", callback=run_id_param)
@click.option("--step", type=int, help="Index of the waiting step (default: the one the run waits on).")
@click.option("--by", help="Who approves (default: $USER).")
def approve(url: str | None, run_id: str, step: int | None, by: str | None) -> None:
    """Approve a playbook step that waits for approval, or confirm a run that waits for a Run click
    (RUN_ID is in the incident's timeline: `responder incidents show`)."""
    body: dict[str, Any] = {"by": _who(by)}
    if step is not None:
        body["step"] = step
    data = call_api("POST", f"/api/runs/{run_id}/approve", body, url=url)
    confirmation = data.get("confirmation", False)
    if data["changed"] and confirmation:
        click.echo(f"run {run_id} of {data['playbook']} confirmed; it runs now")
    elif data["changed"]:
        click.echo(f"run {run_id} step {data['step'] + 1} approved; it runs now")
    elif confirmation:
        click.echo(f"run {run_id} was not waiting for confirmation (status {data['status']})")
    else:
        click.echo(f"run {run_id} was not waiting on step {data['step'] + 1} (status {data['status']})")


@main.command()
@url_option
@click.option(
    "--since", default="7d", show_default=True, help="How far back the window goes (30m, 24h, 7d...)."
)
@click.option("--compare", is_flag=True, help="Set it beside the window before, with the change in percent.")
@click.option("--json", "as_json", is_flag=True)
def report(url: str | None, since: str, compare: bool, as_json: bool) -> None:
    """The incident report: incidents, MTTA and MTTR, how much automation fixed, per rule and team."""
    from responder.report.text import render

    query = f"/api/report?since={since}" + ("&compare=1" if compare else "")
    data = call_api("GET", query, url=url)
    click.echo(json.dumps(data, indent=2) if as_json else render(data))


@main.group()
def flags() -> None:
    """Feature flags served at /api/flags."""


@flags.command("list")
@url_option
def flags_list(url: str | None) -> None:
    for name, value in call_api("GET", "/api/flags", url=url).items():
        click.echo(f"{name}: {json.dumps(value, sort_keys=True)}")


@flags.command("set")
@url_option
@click.argument("name")
@click.argument("value")
def flags_set(url: str | None, name: str, value: str) -> None:
    """Set flag NAME to VALUE (JSON, e.g. '{"enabled": false}' or 5)."""
    import requests

    try:
        parsed = json.loads(value)
    except ValueError:
        raise click.BadParameter(f"not JSON: {value}", param_hint="VALUE") from None
    base = (url or os.environ.get("RESPONDER_URL") or API_URL).rstrip("/")
    headers = {"Content-Type": "application/json"}
    if os.environ.get("RESPONDER_API_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['RESPONDER_API_TOKEN']}"
    response = requests.put(f"{base}/api/flags/{name}", data=json.dumps(parsed), headers=headers, timeout=10)
    if response.status_code >= 400:
        raise click.ClickException(f"{response.status_code}: {response.json().get('error')}")
    click.echo(f"{name}: {json.dumps(parsed, sort_keys=True)}")


@main.command()
@url_option
def pause(url: str | None) -> None:
    """Stop automated actions everywhere (paging continues)."""
    call_api("POST", "/api/automation/pause", url=url)
    click.echo("automation paused; paging continues")


@main.command()
@url_option
def resume(url: str | None) -> None:
    """Let automated actions run again."""
    call_api("POST", "/api/automation/resume", url=url)
    click.echo("automation resumed")
