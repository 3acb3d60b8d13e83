"""The ``responder`` command group and what its commands share: the config directory, the API client.

Commands import what they need when they run, so ``responder incidents list`` does not
pay for loading the Kubernetes client that ``responder worker`` needs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from responder import ids
from responder.config.loader import choose_directory

API_URL = "http://127.0.0.1:8080"


def config_dir(value: str | None, *, announce: bool = True) -> Path:
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


def call_api(method: str, path: str, body: Any = None, url: str | None = None) -> Any:
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


def incident_id_param(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse what cannot be an incident id before asking the API (it would only say 404)."""
    if not ids.is_incident_id(value):
        raise click.BadParameter(f"{value!r} is not an incident id: {ids.INCIDENT_RULE}", ctx, param)
    return value


def run_id_param(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not ids.is_run_id(value):
        raise click.BadParameter(
            f"{value!r} is not a run id: {ids.RUN_RULE} (the timeline's details.run)", ctx, param
        )
    return value


url_option = click.option("--url", envvar="RESPONDER_URL", help=f"Responder base URL (default {API_URL}).")
