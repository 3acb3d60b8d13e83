"""Commands that run on this machine: ``check``, ``simulate``, ``serve``, ``worker``, ``up``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from responder.cli.base import config_dir, config_option, main
from responder.config.loader import LoadedConfig
from responder.errors import ConfigError, RedisUrlError


@main.command()
@config_option
def check(config: str | None) -> None:
    """Validate the config offline; every error with file:line and key path."""
    from responder.notify import dispatch, reach
    from responder.runtime import load

    directory = config_dir(config)
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
    for channel, missing in dispatch.channels_status(config=loaded).items():
        if missing:
            click.echo(f"warning: {channel}: {missing}; its sends will be recorded as skipped", err=True)
    verified = [rule.name for rule in loaded.rules if rule.verify is not None]
    if verified and not os.environ.get("ALERTMANAGER_URL", "").strip():
        click.echo(
            f"warning: rules {', '.join(verified)} verify their fixes, but ALERTMANAGER_URL is not set: "
            "every check will be verify.unknown, treated as not fixed",
            err=True,
        )
    for team, why in reach.unreachable_teams(loaded).items():
        click.echo(
            f"warning: team {team} is in an escalation policy but no channel reaches it: {why}", err=True
        )
    click.echo(
        f"ok: {len(loaded.rules)} rules, {len(loaded.playbooks)} playbooks, "
        f"{len(loaded.responder.teams)} teams, {len(loaded.responder.flags)} flags in {directory}"
    )
    click.echo(_storm_limits(loaded))
    click.echo(_flapping_limits(loaded))


def _storm_limits(loaded: LoadedConfig) -> str:
    """``storm guard: 25 per 10m: a, b; off: c``: each rule's effective limit, rules grouped by limit."""
    from responder.plan import storm_limit
    from responder.plan.storm import describe

    groups: dict[str, list[str]] = {}
    for rule in loaded.rules:
        groups.setdefault(describe(storm_limit(loaded, rule)), []).append(rule.name)
    listed = "; ".join(f"{limit}: {', '.join(names)}" for limit, names in groups.items())
    return f"storm guard (new incidents per rule, then one storm incident): {listed or 'no rules'}"


def _flapping_limits(loaded: LoadedConfig) -> str:
    """``flapping brake: 3 opens per 1h: a, b; off: c``: each rule's effective limit, grouped."""
    from responder.plan import flapping_limit
    from responder.plan.flapping import describe

    groups: dict[str, list[str]] = {}
    for rule in loaded.rules:
        groups.setdefault(describe(flapping_limit(loaded, rule)), []).append(rule.name)
    listed = "; ".join(f"{limit}: {', '.join(names)}" for limit, names in groups.items())
    return f"flapping brake (opens per incident key, then automation suspended): {listed or 'no rules'}"


@main.command()
@config_option
@click.argument("payload", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--storm-at",
    type=click.IntRange(min=1),
    metavar="N",
    help="Plan each alert as the N-th new incident of its rule within the rule's storm window: "
    "beyond the storm limit it goes to the rule's storm incident.",
)
@click.option(
    "--opens",
    type=click.IntRange(min=1),
    metavar="N",
    help="Plan each alert as the N-th open of its incident key within the rule's flapping window: "
    "beyond the flapping limit no playbook runs and level 1 is paged at once.",
)
def simulate(
    config: str | None, payload: Any, as_json: bool, storm_at: int | None, opens: int | None
) -> None:
    """What PAYLOAD (an Alertmanager webhook JSON file) would do, without doing it."""
    from responder.runtime import load
    from responder.simulate import plan_payload, render_text

    try:
        loaded = load(config_dir(config, announce=False))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        plan = plan_payload(loaded, payload.read(), storm_at, opens)
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
        serve_app(config_dir(config), bind, workers, webhook_token, api_token)
    except (ConfigError, RedisUrlError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def _lanes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    from responder.scheduling import parse_lanes

    if value is None:
        return None
    try:
        return parse_lanes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@main.command()
@config_option
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (tests).")
@click.option(
    "--lanes",
    callback=_lanes,
    metavar="LANE,...",
    help="Serve only these lanes, always in the order control, intake, critical, high, medium, low "
    "(default: all). `--lanes control` makes a worker no playbook step can hold up.",
)
@click.option(
    "--health-port",
    type=click.IntRange(1, 65535),
    help="Serve /health (the worker's heartbeat is fresh) and /ready (Redis answers) on this port.",
)
def worker(config: str | None, burst: bool, lanes: tuple[str, ...] | None, health_port: int | None) -> None:
    """An RQ worker with the scheduler (escalation timers, retries)."""
    from responder import runtime as rt
    from responder import worker as worker_mod
    from responder.scheduling import LANES, Lane

    directory = config_dir(config)
    if config:
        os.environ["RESPONDER_CONFIG_DIR"] = str(directory)
    try:
        # Built once, before the first job: every job of this process uses it.
        current = rt.current()
    except (ConfigError, RedisUrlError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    chosen = tuple(Lane(name) for name in lanes) if lanes else LANES
    worker_mod.run(current, burst=burst, lanes=chosen, health_port=health_port)


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

    sys.exit(run_all(config_dir(config), bind, Path(data_dir)))
