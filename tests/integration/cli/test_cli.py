"""The ``responder`` command against a live web app (real HTTP, real Redis)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from responder.cli import main
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "cli-api-token-31ce"


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    app = create_app(runtime, api_token=TOKEN)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def cli(server: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RESPONDER_URL", server)
    monkeypatch.setenv("RESPONDER_API_TOKEN", TOKEN)
    return CliRunner()


def open_incident(runtime: Runtime, server: str) -> str:
    import requests

    requests.post(f"{server}/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")), timeout=5)
    drain(runtime)
    response = requests.get(
        f"{server}/api/incidents", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    return str(response.json()["incidents"][0]["id"])


def test_incidents_list_show_ack_resolve(cli: CliRunner, runtime: Runtime, server: str) -> None:
    incident_id = open_incident(runtime, server)

    listed = cli.invoke(main, ["incidents", "list"])
    assert listed.exit_code == 0, listed.output
    assert incident_id in listed.output
    assert "triggered" in listed.output and "api_quota_exhaustion" in listed.output

    shown = cli.invoke(main, ["incidents", "show", incident_id])
    assert "incident.opened" in shown.output
    assert "step.ok" in shown.output

    acked = cli.invoke(main, ["incidents", "ack", incident_id, "--by", "alice"])
    assert acked.output == f"{incident_id}: acknowledged\n"
    again = cli.invoke(main, ["incidents", "ack", incident_id, "--by", "bob"])
    assert again.output == f"{incident_id}: acknowledged (unchanged)\n"

    resolved = cli.invoke(main, ["incidents", "resolve", incident_id, "--by", "alice"])
    assert resolved.output == f"{incident_id}: resolved\n"
    only_resolved = json.loads(
        cli.invoke(main, ["incidents", "list", "--status", "resolved", "--json"]).output
    )
    assert [i["resolved_by"] for i in only_resolved["incidents"]] == ["alice"]
    drain(runtime)  # resolving ran on_resolved
    flags = cli.invoke(main, ["flags", "list"]).output
    assert 'nonCriticalProcessing: {"enabled": true}' in flags


def test_flags_set_and_kill_switch(cli: CliRunner) -> None:
    result = cli.invoke(main, ["flags", "set", "retryAttempts", "7"])
    assert result.output == "retryAttempts: 7\n"
    assert "retryAttempts: 7" in cli.invoke(main, ["flags", "list"]).output

    unknown = cli.invoke(main, ["flags", "set", "noSuchFlag", "true"])
    assert unknown.exit_code == 1
    assert 'unknown flag "noSuchFlag"' in unknown.output

    assert cli.invoke(main, ["pause"]).output == "automation paused; paging continues\n"
    assert cli.invoke(main, ["resume"]).output == "automation resumed\n"


def test_wrong_token_is_a_clear_error(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONDER_API_TOKEN", "wrong")
    result = cli.invoke(main, ["incidents", "list"])
    assert result.exit_code == 1
    assert "401: missing or wrong token" in result.output


def test_unknown_incident_is_a_clear_error(cli: CliRunner) -> None:
    result = cli.invoke(main, ["incidents", "ack", "0123456789ab", "--by", "alice"])
    assert result.exit_code == 1
    assert '404: no incident "0123456789ab"' in result.output


def test_simulate_shows_the_plan_without_side_effects(runtime: Runtime) -> None:
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--config",
            str(ROOT),
            str(ROOT / "alertmanager" / "sample-alert.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rule api_quota_exhaustion -> incident api_quota_exhaustion:" in result.output
    assert "1. ratelimit.set_profile(profile='conservative')" in result.output
    assert "at +2m: level 2 -> dev-team, ops-team via slack, email, pagerduty" in result.output
    assert "at +4m: level 3 -> dev-team, ops-team, management via slack, email, pagerduty" in result.output

    plan = json.loads(
        CliRunner()
        .invoke(
            main,
            [
                "simulate",
                "--json",
                "--config",
                str(ROOT),
                str(ROOT / "alertmanager" / "sample-alert.json"),
            ],
        )
        .output
    )
    [item] = plan["alerts"][0]["rules"]
    assert [p["playbook"] for p in item["playbooks"]] == [
        "enable_conservative_mode",
        "pause_non_critical_processing",
    ]
    assert [lv["at"] for lv in item["escalation"]] == ["0s", "2m", "4m"]
    # Nothing happened: no incident, no flag change.
    assert runtime.redis.zcard(runtime.keys.incidents) == 0


def test_simulate_shows_the_storm_limit_and_what_the_alert_beyond_it_does() -> None:
    def simulate(*args: str) -> str:
        sample = str(ROOT / "alertmanager" / "sample-alert.json")
        result = CliRunner().invoke(main, ["simulate", "--config", str(ROOT), sample, *args])
        assert result.exit_code == 0, result.output
        return result.output

    limit = (
        "    storm guard: 25 per 10m: from new incident 26 of the rule within that window, alerts go to"
        " incident api_quota_exhaustion:storm (it pages once; no playbooks run for them)\n"
    )
    assert limit in simulate()
    assert limit in simulate("--storm-at", "25")
    assert "    as new incident 25 within the window: opens its own incident\n" in simulate(
        "--storm-at", "25"
    )

    crossing = simulate("--storm-at", "26")
    assert (
        "  rule api_quota_exhaustion -> incident api_quota_exhaustion:storm, severity critical\n" in crossing
    )
    assert "    as new incident 26 within the window: opens the storm incident\n" in crossing
    assert (
        "    playbooks not run: storm: more than 25 new incidents of rule api_quota_exhaustion within 10m;"
        " its member alerts run no playbooks\n"
    ) in crossing
    assert "playbook enable_conservative_mode" not in crossing
    assert "at +0s: level 1 -> dev-team via slack, email, pagerduty" in crossing  # the storm's one page

    later = simulate("--storm-at", "27")
    assert (
        "as new incident 27 within the window: joins the open storm incident: no page, no playbook" in later
    )
    assert "level 1" not in later


def test_simulate_reports_an_unmatched_alert(tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_bytes(body(alert("NobodyCares")))
    result = CliRunner().invoke(main, ["simulate", "--config", str(ROOT), str(payload)])
    assert "no rule matches: recorded as unmatched, nobody is told" in result.output


def test_simulate_refuses_a_file_that_is_not_a_webhook_payload(tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text('{"version": "3"}')
    result = CliRunner().invoke(main, ["simulate", "--config", str(ROOT), str(payload)])
    assert result.exit_code == 1
    assert "not an Alertmanager webhook payload (version 4)" in result.output


def test_serve_refuses_to_start_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESPONDER_WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("RESPONDER_API_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--config", str(ROOT)])
    assert result.exit_code == 2
    assert (
        "RESPONDER_WEBHOOK_TOKEN and RESPONDER_API_TOKEN not set: set them, or pass --allow-unauthenticated"
        in result.output
    )


def waiting_run(cli: CliRunner, runtime: Runtime, server: str, config_dir: Path) -> tuple[str, str]:
    """Post an alert whose playbook's step waits for approval; (incident id, run id)."""
    import requests

    (config_dir / "playbooks" / "approve_then_flag.yaml").write_text(
        "name: approve_then_flag\nsteps:\n"
        "  - action: flags.set\n    with: {flag: retryAttempts, value: 7}\n    requires_approval: true\n"
    )
    with (config_dir / "rules" / "10-rules.yaml").open("a") as rules:
        rules.write(
            "- name: needs_approval\n  matchers: ['alertname = \"NeedsApproval\"']\n"
            "  playbooks: [approve_then_flag]\n"
        )
    runtime.reload()
    requests.post(f"{server}/webhook/alertmanager", data=body(alert("NeedsApproval")), timeout=5)
    drain(runtime)
    [incident] = json.loads(cli.invoke(main, ["incidents", "list", "--json"]).output)["incidents"]
    shown = json.loads(cli.invoke(main, ["incidents", "show", incident["id"], "--json"]).output)
    [waiting] = [e for e in shown["timeline"] if e["kind"] == "step.awaiting_approval"]
    return incident["id"], waiting["details"]["run"]


def test_a_step_waiting_for_approval_runs_once_approved_from_the_cli(
    cli: CliRunner, runtime: Runtime, server: str, config_dir: Path
) -> None:
    incident_id, run_id = waiting_run(cli, runtime, server, config_dir)
    assert "retryAttempts: 3" in cli.invoke(main, ["flags", "list"]).output  # not yet

    approved = cli.invoke(main, ["approve", run_id, "--by", "carol"])
    assert approved.output == f"run {run_id} step 1 approved; it runs now\n"
    again = cli.invoke(main, ["approve", run_id, "--by", "dave"])
    assert again.output == f"run {run_id} was not waiting on step 1 (status running)\n"
    drain(runtime)

    assert "retryAttempts: 7" in cli.invoke(main, ["flags", "list"]).output
    shown = json.loads(cli.invoke(main, ["incidents", "show", incident_id, "--json"]).output)
    assert [e["message"] for e in shown["timeline"] if e["kind"] == "step.approved"] == [
        "approve_then_flag step 1 approved by carol"
    ]
    assert "404: no playbook run" in cli.invoke(main, ["approve", "0123456789abcdef", "--by", "x"]).output


def test_the_cli_cannot_approve_once_the_incident_resolved(
    cli: CliRunner, runtime: Runtime, server: str, config_dir: Path
) -> None:
    incident_id, run_id = waiting_run(cli, runtime, server, config_dir)
    cli.invoke(main, ["incidents", "resolve", incident_id, "--by", "carol"])
    drain(runtime)

    result = cli.invoke(main, ["approve", run_id, "--by", "carol"])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: 409: approve_then_flag step 1 cannot be approved: incident {incident_id} is resolved; "
        "the run ended\n"
    )
    assert "retryAttempts: 3" in cli.invoke(main, ["flags", "list"]).output


def test_a_run_waiting_for_confirmation_runs_once_confirmed_from_the_cli(
    cli: CliRunner, runtime: Runtime, server: str, config_dir: Path
) -> None:
    import requests

    (config_dir / "playbooks" / "confirm_flag.yaml").write_text(
        "name: confirm_flag\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 9}\n"
    )
    with (config_dir / "rules" / "10-rules.yaml").open("a") as rules:
        rules.write(
            "- name: confirmed\n  matchers: ['alertname = \"Confirm\"']\n"
            "  playbooks: [confirm_flag]\n  automation: confirm\n"
        )
    runtime.reload()
    requests.post(f"{server}/webhook/alertmanager", data=body(alert("Confirm")), timeout=5)
    drain(runtime)
    [incident] = json.loads(cli.invoke(main, ["incidents", "list", "--json"]).output)["incidents"]
    shown = cli.invoke(main, ["incidents", "show", incident["id"]]).output
    [line] = [ln for ln in shown.splitlines() if "playbook.awaiting_confirmation" in ln]
    run_id = line.split("(run ", 1)[1].split(")", 1)[0]
    assert f"`responder approve {run_id}`" in line
    assert "retryAttempts: 3" in cli.invoke(main, ["flags", "list"]).output  # no step has run

    confirmed = cli.invoke(main, ["approve", run_id, "--by", "carol"])
    again = cli.invoke(main, ["approve", run_id, "--by", "dave"])
    drain(runtime)

    assert confirmed.output == f"run {run_id} of confirm_flag confirmed; it runs now\n"
    assert again.output == f"run {run_id} was not waiting for confirmation (status running)\n"
    assert "retryAttempts: 9" in cli.invoke(main, ["flags", "list"]).output
    shown = cli.invoke(main, ["incidents", "show", incident["id"]]).output
    assert (
        f"run.confirmed           playbook confirm_flag (run {run_id}) confirmed by carol: it runs now"
        in shown
    )


LOOP_RULES = """
- name: careful
  matchers: ['alertname = "Careful"']
  severity: high
  playbooks: [enable_direct_processing]
  automation: confirm
  notify: [slack]
  escalation: {after: 10m}
- name: watch_only
  matchers: ['alertname = "WatchOnly"']
  severity: medium
  playbooks: [restart_workers]
  automation: "off"
  notify: [slack]
- name: quiet_restart
  matchers: ['alertname = "QuietRestart"']
  severity: high
  playbooks: [restart_workers]
  verify: {after: 3m, page: on_failure}
  flapping: {max_opens: 2, per: 30m}
  notify: [slack]
  escalation: {after: 10m}
"""


def test_simulate_shows_verify_automation_level_flapping_and_storm(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    shutil.copy(ROOT / "responder.yaml", directory / "responder.yaml")
    shutil.copytree(ROOT / "rules", directory / "rules")
    shutil.copytree(ROOT / "playbooks", directory / "playbooks")
    (directory / "rules" / "30-loop.yaml").write_text(LOOP_RULES)

    def simulate(name: str, *args: str) -> str:
        path = tmp_path / f"{name}.json"
        path.write_bytes(body(alert(name)))
        result = CliRunner().invoke(main, ["simulate", "--config", str(directory), str(path), *args])
        assert result.exit_code == 0, result.output
        return result.output

    worker_down = simulate("WorkerDown").splitlines()
    assert "    automation: auto (playbooks run at open)" in worker_down
    assert "    storm guard: 25 per 10m: " in "\n".join(worker_down)
    assert (
        "    flapping brake: 3 opens per 1h: from open 4 of the incident key within that window, no playbook "
        "runs and level 1 is paged at once"
    ) in worker_down
    verify = worker_down.index(
        "    verify: 2m after the playbooks complete, ask Alertmanager whether the alerts still fire"
    )
    assert worker_down[verify + 1 : verify + 3] == [
        "    still firing: run these, then ask again 2m after they complete:",
        "      playbook enable_direct_processing",
    ]
    assert "    still firing: page the next escalation level at once, with what was tried" in worker_down
    assert "    at +0s: level 1 -> dev-team via slack, email, pagerduty (unless acknowledged)" in worker_down

    flapping = simulate("WorkerDown", "--opens", "4")
    assert (
        "    as open 4 within the window: flapping: no playbook runs, level 1 is paged at once\n" in flapping
    )
    assert (
        "    playbooks not run: automation suspended: the incident key is flapping (opened 4 times within 1h "
        "(limit 3))\n"
    ) in flapping
    assert "    as open 3 within the window: acts as usual\n" in simulate("WorkerDown", "--opens", "3")

    storm = simulate("WorkerDown", "--storm-at", "26")
    assert "    as new incident 26 within the window: opens the storm incident\n" in storm

    careful = simulate("Careful")
    assert (
        "    automation: confirm (each run waits for a Run click: Slack, dashboard or `responder approve "
        "RUN_ID`; 1h)\n"
    ) in careful
    assert "    playbook enable_direct_processing (waits for a Run click)\n" in careful

    watch_only = simulate("WatchOnly")
    assert "    automation: off (nothing runs; the timeline records what would have)\n" in watch_only
    assert (
        "    playbooks not run: automation is off for rule watch_only (automation: off); this is what would "
        "have run\n"
    ) in watch_only
    assert "kubernetes.rollout_restart" not in watch_only

    quiet = simulate("QuietRestart")
    assert "    page: on_failure: nobody is paged unless automation does not clear it\n" in quiet
    assert "    +0s after a failed verdict: level 1 -> dev-team via slack (unless acknowledged)\n" in quiet
    assert "    flapping brake: 2 opens per 30m: from open 3 of the incident key" in quiet

    as_json = json.loads(
        CliRunner()
        .invoke(main, ["simulate", "--config", str(directory), str(tmp_path / "QuietRestart.json"), "--json"])
        .output
    )
    [rule] = as_json["alerts"][0]["rules"]
    assert rule["automation"] == "auto"
    assert {k: v for k, v in rule["verify"].items() if k != "else"} == {
        "after": "3m",
        "page": "on_failure",
        "applies": True,
        "holds_level_1": True,
    }
    assert rule["flapping"] == {"limit": "2 opens per 30m", "from_open": 3}
