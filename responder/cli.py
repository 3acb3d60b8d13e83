"""The ``responder`` command.

Commands import what they need when they run, so ``responder incidents list`` does not
pay for loading the Kubernetes client that ``responder worker`` needs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from responder.config.loader import choose_directory
from responder.errors import ConfigError, RedisUrlError

API_URL = "http://127.0.0.1:8080"


def _config_dir(value: str | None, *, announce: bool = True) -> Path:
    """The config directory for this command; says on stderr which one and why (a silent choice of the
    current directory over the defaults, or the reverse, looks like rules that stopped working)."""
    ctx = click.get_current_context()
    # click fills `value` from RESPONDER_CONFIG_DIR too; only a --config typed on the command line is one.
    given = value if ctx.get_parameter_source("config") is ParameterSource.COMMANDLINE else None
    choice = choose_directory(given)
    if announce:
        click.echo(str(choice), err=True)
    return choice.directory


config_option = click.option(
    "--config",
    "config",
    envvar="RESPONDER_CONFIG_DIR",
    type=click.Path(file_okay=False),
    help="Config directory (default: RESPONDER_CONFIG_DIR, else the current directory if it has a "
    "responder.yaml, else the built-in defaults). Every command that runs on it says which one it uses.",
)


@click.group()
@click.version_option(package_name="alert-responder")
def main() -> None:
    """Turn Alertmanager alerts into playbook runs, pages and escalations."""
    logging.basicConfig(
        level=os.environ.get("RESPONDER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@config_option
def check(config: str | None) -> None:
    """Validate the config offline; every error with file:line and key path."""
    from responder.notify import dispatch
    from responder.runtime import load

    directory = _config_dir(config)
    try:
        loaded = load(directory)
    except ConfigError as exc:
        for issue in exc.issues:
            click.echo(
                f"{directory / issue.file if issue.file != str(directory) else issue.file}:"
                f"{issue.line or 0}: {issue.path + ': ' if issue.path else ''}{issue.message}",
                err=True,
            )
        click.echo(f"{len(exc.issues)} error(s) in {directory}", err=True)
        sys.exit(1)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    for channel, missing in dispatch.channels_status().items():
        if missing:
            click.echo(f"warning: {channel}: {missing}; its sends will be recorded as skipped", err=True)
    click.echo(
        f"ok: {len(loaded.rules)} rules, {len(loaded.playbooks)} playbooks, "
        f"{len(loaded.responder.teams)} teams, {len(loaded.responder.flags)} flags in {directory}"
    )


@main.command()
@config_option
@click.argument("payload", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def simulate(config: str | None, payload: Any, as_json: bool) -> None:
    """What PAYLOAD (an Alertmanager webhook JSON file) would do, without doing it."""
    from responder.runtime import load
    from responder.simulate import plan_payload, render_text

    try:
        loaded = load(_config_dir(config, announce=False))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        plan = plan_payload(loaded, payload.read())
    except ValueError as exc:
        click.echo(f"{payload.name}: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(plan, indent=2) if as_json else render_text(plan))


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:8080", show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option(
    "--allow-unauthenticated",
    is_flag=True,
    help="Serve without RESPONDER_WEBHOOK_TOKEN / RESPONDER_API_TOKEN (never on a shared network).",
)
def serve(config: str | None, bind: str, workers: int, allow_unauthenticated: bool) -> None:
    """The web app under gunicorn."""
    from responder.serve import serve_app

    webhook_token = os.environ.get("RESPONDER_WEBHOOK_TOKEN") or None
    api_token = os.environ.get("RESPONDER_API_TOKEN") or None
    if (webhook_token is None or api_token is None) and not allow_unauthenticated:
        missing = [
            n
            for n, v in (("RESPONDER_WEBHOOK_TOKEN", webhook_token), ("RESPONDER_API_TOKEN", api_token))
            if v is None
        ]
        raise click.UsageError(f"{' and '.join(missing)} not set: set them, or pass --allow-unauthenticated")
    try:
        serve_app(_config_dir(config), bind, workers, webhook_token, api_token)
    except (ConfigError, RedisUrlError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command()
@config_option
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (tests).")
@click.option(
    "--health-port",
    type=click.IntRange(1, 65535),
    help="Serve /health (the worker's heartbeat is fresh) and /ready (Redis answers) on this port.",
)
def worker(config: str | None, burst: bool, health_port: int | None) -> None:
    """An RQ worker with the scheduler (escalation timers, retries)."""
    from responder import runtime as rt
    from responder import worker as worker_mod

    directory = _config_dir(config)
    if config:
        os.environ["RESPONDER_CONFIG_DIR"] = str(directory)
    try:
        # Built once, before the first job: every job of this process uses it.
        current = rt.current()
    except (ConfigError, RedisUrlError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    worker_mod.run(current, burst=burst, health_port=health_port)


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:8080", show_default=True)
@click.option(
    "--data-dir",
    default=".responder-data",
    show_default=True,
    help="Where the private redis-server keeps its append-only file.",
)
def up(config: str | None, bind: str, data_dir: str) -> None:
    """Everything on one machine: web, worker with scheduler, and Redis if REDIS_URL is unset."""
    from responder.up import run_all

    sys.exit(run_all(_config_dir(config), bind, Path(data_dir)))


# -- operating a running responder, through its API ------------------------------------------------------


def _api(method: str, path: str, body: Any = None, url: str | None = None) -> Any:
    import requests

    base = (url or os.environ.get("RESPONDER_URL") or API_URL).rstrip("/")
    headers = {}
    token = os.environ.get("RESPONDER_API_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.request(method, base + path, json=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the responder at {base}: {type(exc).__name__}") from None
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text[:200]}
    if response.status_code >= 400:
        detail = data.get("detail")
        raise click.ClickException(
            f"{response.status_code}: {data.get('error')}" + (f"\n{detail}" if detail else "")
        )
    return data


url_option = click.option("--url", envvar="RESPONDER_URL", help=f"Responder base URL (default {API_URL}).")


@main.group()
def incidents() -> None:
    """List, show, acknowledge and resolve incidents."""


@incidents.command("list")
@url_option
@click.option("--status", type=click.Choice(["triggered", "acknowledged", "resolved"]))
@click.option("--json", "as_json", is_flag=True)
def incidents_list(url: str | None, status: str | None, as_json: bool) -> None:
    data = _api("GET", "/api/incidents" + (f"?status={status}" if status else ""), url=url)
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
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True)
def incidents_show(url: str | None, incident_id: str, as_json: bool) -> None:
    data = _api("GET", f"/api/incidents/{incident_id}", url=url)
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
    data = _api("POST", f"/api/incidents/{incident_id}/{action}", {"by": _who(by)}, url=url)
    click.echo(f"{incident_id}: {data['incident']['status']}" + ("" if data["changed"] else " (unchanged)"))


@incidents.command("ack")
@url_option
@click.argument("incident_id")
@click.option("--by", help="Who acknowledges (default: $USER).")
def incidents_ack(url: str | None, incident_id: str, by: str | None) -> None:
    """Acknowledge: escalation stops for good, PagerDuty is acknowledged, Slack shows who."""
    _transition("ack", url, incident_id, by)


@incidents.command("resolve")
@url_option
@click.argument("incident_id")
@click.option("--by", help="Who resolves (default: $USER).")
def incidents_resolve(url: str | None, incident_id: str, by: str | None) -> None:
    """Resolve by hand: timers void, on_resolved playbooks run, Slack and PagerDuty updated."""
    _transition("resolve", url, incident_id, by)


@main.command()
@url_option
@click.argument("run_id")
@click.option("--step", type=int, help="Index of the waiting step (default: the one the run waits on).")
@click.option("--by", help="Who approves (default: $USER).")
def approve(url: str | None, run_id: str, step: int | None, by: str | None) -> None:
    """Approve a playbook step that waits for approval (RUN_ID is in the incident's timeline)."""
    body: dict[str, Any] = {"by": _who(by)}
    if step is not None:
        body["step"] = step
    data = _api("POST", f"/api/runs/{run_id}/approve", body, url=url)
    if data["changed"]:
        click.echo(f"run {run_id} step {data['step'] + 1} approved; it runs now")
    else:
        click.echo(f"run {run_id} was not waiting on step {data['step'] + 1} (status {data['status']})")


@main.group()
def flags() -> None:
    """Feature flags served at /api/flags."""


@flags.command("list")
@url_option
def flags_list(url: str | None) -> None:
    for name, value in _api("GET", "/api/flags", url=url).items():
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
    _api("POST", "/api/automation/pause", url=url)
    click.echo("automation paused; paging continues")


@main.command()
@url_option
def resume(url: str | None) -> None:
    """Let automated actions run again."""
    _api("POST", "/api/automation/resume", url=url)
    click.echo("automation resumed")
