"""Safety: the kill switch, dry run, cooldowns, the hourly budget, one run per playbook, reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import flags
from responder.webhook.app import create_app
from tests.fakes.notify_env import SECRETS
from tests.fakes.slack import FakeSlack
from tests.helpers import InProcessWorker, advance, alert, body, drain, incidents_of, lane_queues, timeline_of


def client_for(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def post(client: FlaskClient, *alerts: dict[str, Any]) -> None:
    response = client.post("/webhook/alertmanager", data=body(*alerts), content_type="application/json")
    assert response.status_code == 200, response.get_json()


def timeline(runtime: Runtime, rule: str) -> list[dict[str, Any]]:
    [incident] = [i for i in incidents_of(runtime) if i["rule"] == rule][:1]
    return timeline_of(runtime, incident["id"])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_paused_automation_runs_no_playbooks_but_still_records_the_incident(runtime: Runtime) -> None:
    client = client_for(runtime)
    assert client.post("/api/automation/pause").get_json() == {"automation": "paused", "paging": "on"}

    post(client, alert("APIQuotaExhaustion"))
    drain(runtime)

    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": True}
    kinds = [e["kind"] for e in timeline(runtime, "api_quota_exhaustion")]
    assert kinds == ["incident.opened", "playbook.paused"]

    client.post("/api/automation/resume")
    assert client.get("/api/automation").get_json() == {"automation": "running"}


def test_pause_mid_run_stops_the_remaining_steps(runtime: Runtime) -> None:
    client = client_for(runtime)
    post(client, alert("APIQuotaExhaustion"))
    # Open the incident and start the runs, then pull the kill switch before the steps run.
    InProcessWorker(lane_queues(runtime), connection=runtime.redis).work(burst=True, max_jobs=1)
    client.post("/api/automation/pause")
    drain(runtime)

    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": True}
    cancelled = [e for e in timeline(runtime, "api_quota_exhaustion") if e["kind"] == "playbook.cancelled"]
    assert len(cancelled) == 2
    assert all("automation is paused" in e["message"] for e in cancelled)


def test_global_dry_run_records_what_it_would_do_and_changes_nothing(
    runtime: Runtime, config_dir: Path
) -> None:
    edit(config_dir / "responder.yaml", "safety:\n", "safety:\n  dry_run: true\n")
    runtime.reload()
    client = client_for(runtime)

    post(client, alert("APIQuotaExhaustion"))
    drain(runtime)

    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": True}
    assert flags.get(runtime.redis, runtime.keys, "rateLimits") == {"profile": "balanced"}
    messages = [e["message"] for e in timeline(runtime, "api_quota_exhaustion") if e["kind"] == "step.ok"]
    assert (
        "pause_non_critical step 1/1 (flags.set): would set flag nonCriticalProcessing to "
        '{"enabled": false}' in messages
    )
    assert (
        "enable_conservative_mode step 1/2 (ratelimit.set_profile): would activate rate-limit profile "
        "conservative" in messages
    )


def test_rule_dry_run_only_affects_that_rule(runtime: Runtime, config_dir: Path) -> None:
    edit(
        config_dir / "rules" / "10-rules.yaml",
        "  playbooks: [echo_label]\n",
        "  playbooks: [echo_label]\n  dry_run: true\n",
    )
    runtime.reload()
    client = client_for(runtime)

    post(client, alert("Templated", note="x"), alert("APIQuotaExhaustion"))
    drain(runtime)

    started = [e for e in timeline(runtime, "templated") if e["kind"] == "playbook.started"]
    assert started[0]["message"] == "playbook echo_label started (firing, dry run)"
    # The other rule acted for real.
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}


def test_cooldown_keeps_playbooks_from_rerunning_for_the_same_incident_key(
    runtime: Runtime, config_dir: Path
) -> None:
    edit(
        config_dir / "rules" / "10-rules.yaml",
        "  group_by: [alertname]\n- name: flaky",
        "  group_by: [alertname]\n  cooldown: 10m\n- name: flaky",
    )
    runtime.reload()
    client = client_for(runtime)

    post(client, alert("APIQuotaExhaustion", fingerprint="q1", starts_at="2026-11-28T10:00:00Z"))
    drain(runtime)
    post(
        client,
        alert("APIQuotaExhaustion", status="resolved", fingerprint="q1", starts_at="2026-11-28T10:00:00Z"),
    )
    drain(runtime)
    # It fires again five minutes later: a new incident, but within the cooldown.
    advance(runtime, 5 * 60)
    post(client, alert("APIQuotaExhaustion", fingerprint="q1", starts_at="2026-11-28T10:05:00Z"))
    drain(runtime)

    newest = incidents_of(runtime)[0]
    assert newest["status"] == "triggered"
    events = timeline_of(runtime, newest["id"])
    assert [e["kind"] for e in events] == ["incident.opened", "playbook.cooldown"]
    assert events[1]["message"].startswith("playbooks not run: incident key in cooldown for ")
    # on_resolved switched processing back on, and nothing switched it off again.
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": True}


def test_action_budget_stops_automation_and_escalates(
    runtime: Runtime, config_dir: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRETS.slack_token)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    edit(config_dir / "responder.yaml", "  max_actions_per_hour: 100", "  max_actions_per_hour: 2")
    edit(config_dir / "responder.yaml", 'dev-team: {slack: "#dev"', 'dev-team: {slack: "#embedding-dev"')
    edit(
        config_dir / "rules" / "10-rules.yaml",
        "  severity: critical\n",
        "  severity: critical\n  notify: [slack]\n",
    )
    runtime.reload()
    client = client_for(runtime)

    post(client, alert("APIQuotaExhaustion"))
    drain(runtime)

    events = timeline(runtime, "api_quota_exhaustion")
    assert len([e for e in events if e["kind"] == "step.ok"]) == 2
    [cancelled] = [e for e in events if e["kind"] == "playbook.cancelled"]
    assert cancelled["message"].startswith("automation budget exhausted (2 actions/hour)")
    levels = [e["message"] for e in events if e["kind"] == "escalation.level"]
    # Level 1 on open, then level 2 at once because automation stopped.
    assert levels[0].startswith("level 1: paged dev-team via slack (incident opened)")
    assert levels[1].startswith("level 2: paged dev-team, ops-team via slack (automation budget exhausted")
    # In Slack: dev-team's card moved to level 2 with the reason in its thread; ops-team got its card.
    [dev_card], [ops_card] = slack.cards("#embedding-dev"), slack.cards("#ops")
    assert [r.text.split(":")[0] for r in dev_card.replies] == [
        "automation budget exhausted (2 actions/hour)"
    ]
    assert {"type": "mrkdwn", "text": "*Level*\n2"} in ops_card.blocks[2]["fields"]


def test_one_run_of_a_playbook_at_a_time(runtime: Runtime, config_dir: Path) -> None:
    # Two rules, two incidents, the same playbook at the same moment: the second run is skipped.
    edit(
        config_dir / "rules" / "10-rules.yaml",
        "- name: flaky",
        "- name: quota_again\n  matchers: ['alertname = \"QuotaAgain\"']\n"
        "  playbooks: [enable_conservative_mode]\n- name: flaky",
    )
    runtime.reload()
    client = client_for(runtime)

    post(client, alert("APIQuotaExhaustion"), alert("QuotaAgain"))
    drain(runtime)

    skipped = [e for e in timeline(runtime, "quota_again") if e["kind"] == "playbook.skipped"]
    assert len(skipped) == 1
    assert skipped[0]["message"].startswith(
        "playbook enable_conservative_mode not run: already running (run "
    )
    completed = [e for e in timeline(runtime, "api_quota_exhaustion") if e["kind"] == "playbook.completed"]
    assert len(completed) == 2


def test_reload_refuses_a_bad_config_and_keeps_the_last_good_one(runtime: Runtime, config_dir: Path) -> None:
    client = client_for(runtime)
    edit(config_dir / "rules" / "10-rules.yaml", "  severity: critical\n", "  severity: apocalyptic\n")

    response = client.post("/-/reload")
    assert response.status_code == 400
    data = response.get_json()
    assert data["error"] == "config refused; the last good config stays"
    assert any(line.startswith("rules/10-rules.yaml:3: [0].severity:") for line in data["detail"])

    # The old rules still work.
    post(client, alert("APIQuotaExhaustion"))
    drain(runtime)
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == {"enabled": False}

    edit(config_dir / "rules" / "10-rules.yaml", "  severity: apocalyptic\n", "  severity: high\n")
    response = client.post("/-/reload")
    assert response.status_code == 200
    assert response.get_json() == {"status": "reloaded", "rules": 4, "playbooks": 6}


def test_runs_of_one_playbook_on_different_targets_go_ahead_side_by_side(
    runtime: Runtime, config_dir: Path
) -> None:
    (config_dir / "playbooks" / "set_named_flag.yaml").write_text(
        "name: set_named_flag\nsteps:\n"
        "  - action: flags.set\n    with: {flag: '{{ alert.labels.flag }}', value: 1}\n"
        # A second step keeps the first run holding its lock while the second run starts.
        "  - action: notify\n    with: {message: 'set {{ alert.labels.flag }}'}\n"
    )
    edit(
        config_dir / "rules" / "10-rules.yaml",
        "- name: flaky",
        "- name: named_flag\n  matchers: ['alertname = \"NamedFlag\"']\n"
        "  playbooks: [set_named_flag]\n  group_by: [flag]\n- name: flaky",
    )
    runtime.reload()
    client = client_for(runtime)

    post(
        client,
        alert("NamedFlag", fingerprint="n1", flag="retryAttempts"),
        alert("NamedFlag", fingerprint="n2", flag="nonCriticalProcessing"),
        alert("NamedFlag", fingerprint="n3", flag="retryAttempts", other="x"),
    )
    drain(runtime)

    # Two targets, two runs; the third alert joined the retryAttempts incident.
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 1
    assert flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing") == 1
    records = incidents_of(runtime)
    assert len(records) == 2
    for record in records:
        kinds = [e["kind"] for e in timeline_of(runtime, record["id"])]
        assert "playbook.completed" in kinds and "playbook.skipped" not in kinds
