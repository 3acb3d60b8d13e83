"""The flag store remembers who changed each flag last: a playbook (with its incident and run) or the API."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags
from responder.store.flags import FlagChange
from responder.webhook.app import create_app
from tests.helpers import open_incident, timeline_of


def client_for(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def runs_of(runtime: Runtime, incident_id: str) -> dict[str, str]:
    """Playbook name -> run id, from the timeline."""
    return {
        e["details"]["playbook"]: e["details"]["run"]
        for e in timeline_of(runtime, incident_id)
        if e["kind"] == "playbook.started"
    }


def test_a_playbook_change_records_automation_its_incident_and_run(runtime: Runtime) -> None:
    client = client_for(runtime)
    incident_id, _ = open_incident(client, runtime, "APIQuotaExhaustion")
    run = runs_of(runtime, incident_id)

    changes = flags.last_changes(runtime.redis, runtime.keys)

    assert changes["rateLimits"] == FlagChange(
        "automation", changes["rateLimits"].at, incident_id, run["enable_conservative_mode"]
    )
    assert changes["nonCriticalProcessing"].run == run["pause_non_critical"]
    assert runtime.clock() - 1 <= changes["rateLimits"].at <= runtime.clock()
    assert "retryAttempts" not in changes  # untouched: still as in responder.yaml


def test_a_change_through_the_api_records_api_and_replaces_the_last_one(runtime: Runtime) -> None:
    client = client_for(runtime)
    open_incident(client, runtime, "APIQuotaExhaustion")

    response = client.put("/api/flags/rateLimits", data='{"profile": "balanced"}')

    assert response.status_code == 200
    assert flags.last_changes(runtime.redis, runtime.keys)["rateLimits"] == FlagChange("api", runtime.clock())


def test_a_dry_run_records_no_change(runtime: Runtime, config_dir: Path) -> None:
    path = config_dir / "responder.yaml"
    path.write_text(path.read_text().replace("safety:\n", "safety:\n  dry_run: true\n"))
    runtime.reload()

    open_incident(client_for(runtime), runtime, "APIQuotaExhaustion")

    assert flags.last_changes(runtime.redis, runtime.keys) == {}
