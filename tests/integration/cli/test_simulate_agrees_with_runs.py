"""``responder simulate`` and a real run of the same payload agree, for every default rule.

Both go through the one response plan, so what simulate says about severity, playbooks,
dry run and who is paged when must be what the run does. The run is real: the default
config, a real RQ worker, the Kubernetes actions against the fake API server, every page
delivered to the fakes, and the clock moved through every escalation level. A rule that
verifies asks the real Alertmanager, which does not hold the alert: its check finds it
fixed, so no ``verify.else`` playbook runs and the escalation is the plan's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from responder.cli import main
from responder.config.durations import parse_duration
from responder.routing.matchers import MatchType, parse_matcher
from responder.runtime import Runtime
from responder.store import incidents as store
from responder.webhook.app import create_app
from tests.fakes.kube import FakeKube
from tests.fakes.paging import Paging, paging_env
from tests.helpers import advance, alert, payload

REPO = Path(__file__).parents[3]
DEFAULT_RULES = [
    rule for path in sorted((REPO / "rules").glob("*.yaml")) for rule in yaml.safe_load(path.read_text())
]
DEPLOYMENTS = ("embedding-queue-workers", "paperless-maverick")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the project's default config (rules/, playbooks/, responder.yaml at the top)."""
    target = tmp_path / "defaults"
    target.mkdir()
    shutil.copy(REPO / "responder.yaml", target / "responder.yaml")
    shutil.copytree(REPO / "rules", target / "rules")
    shutil.copytree(REPO / "playbooks", target / "playbooks")
    return target


@pytest.fixture
def cluster(fake_kube: FakeKube, kubeconfig: Path) -> FakeKube:
    for name in DEPLOYMENTS:
        fake_kube.add_deployment("embedding", name)
    return fake_kube


@pytest.fixture
def paged_defaults(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, slack: Any, pagerduty: Any, smtp: Any, ca_file: str
) -> Paging:
    """Every channel of the default teams pointed at its fake (request it before ``runtime``)."""
    for name, value in paging_env(slack, pagerduty, smtp, ca_file).items():
        monkeypatch.setenv(name, value)
    return Paging(slack, pagerduty, smtp)


def alert_for(rule: dict[str, Any], severity: str) -> dict[str, Any]:
    """An alert the rule matches (the default rules match on equality), with ``severity`` as its label."""
    labels = {}
    for text in rule["matchers"]:
        matcher = parse_matcher(text)
        assert matcher.type == MatchType.EQ, f"rule {rule['name']}: write a matching alert for {text}"
        labels[matcher.name] = matcher.value
    name = labels.pop("alertname")
    return alert(name, fingerprint=f"fp-{rule['name']}", **{**labels, "severity": severity})


def simulated(config_dir: Path, tmp_path: Path, firing: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload(firing)))
    result = CliRunner().invoke(main, ["simulate", "--config", str(config_dir), str(path), "--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.output)["alerts"]
    [plan] = entry["rules"]
    return dict(plan)


def run_for_real(runtime: Runtime, firing: dict[str, Any]) -> dict[str, Any]:
    """Post the alert, let every escalation level come due, and read what happened from the timeline."""
    client = create_app(runtime).test_client()
    assert client.post("/webhook/alertmanager", data=json.dumps(payload(firing))).status_code == 200
    advance(runtime, 0)
    [incident] = store.listing(runtime.redis, runtime.keys)
    rule = runtime.config.rule(incident.rule)
    assert rule is not None
    advance(runtime, 3 * rule.escalation.after)
    timeline = store.timeline(runtime.redis, runtime.keys, incident.id)
    started = [e for e in timeline if e.kind == "playbook.started"]
    pages = []
    for event in (e for e in timeline if e.kind == "escalation.level"):
        teams, channels = event.message.split(": paged ", 1)[1].split(" (", 1)[0].split(" via ")
        pages.append(
            {
                "level": event.details["level"],
                "after": round(event.at - incident.created_at),
                "teams": teams.split(", "),
                "channels": channels.split(", "),
            }
        )
    return {
        "rule": incident.rule,
        "severity": incident.severity,
        "playbooks": [e.details["playbook"] for e in started],
        "dry_run": ["dry run" in e.message for e in started],
        "escalation": pages,
        "failed": [e.message for e in timeline if e.kind == "step.failed"],
        "verified": [e.kind for e in timeline if e.kind.startswith("verify.") and e.kind != "verify.waiting"],
    }


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=[r["name"] for r in DEFAULT_RULES])
@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_simulate_and_a_real_run_agree(
    paged_defaults: Paging,
    cluster: FakeKube,
    runtime: Runtime,
    config_dir: Path,
    tmp_path: Path,
    rule: Any,
    severity: str,
    request: pytest.FixtureRequest,
) -> None:
    if "verify" in rule:
        request.getfixturevalue("alertmanager")
    firing = alert_for(rule, severity)
    plan = simulated(config_dir, tmp_path, firing)
    real = run_for_real(runtime, firing)

    assert real["failed"] == [], "a step failed: the run paged beyond the plan"
    assert real["rule"] == plan["rule"] == rule["name"]
    assert real["severity"] == plan["severity"]
    assert real["playbooks"] == [p["playbook"] for p in plan["playbooks"]]
    assert real["dry_run"] == [plan["dry_run"]] * len(plan["playbooks"])
    expected_pages = [
        {
            "level": p["level"],
            "after": round(parse_duration(p["at"])),
            "teams": p["teams"],
            "channels": p["channels"],
        }
        for p in plan["escalation"]
    ]
    assert real["escalation"] == expected_pages
    assert real["verified"] == (["verify.ok"] if plan["verify"] and plan["verify"]["applies"] else [])


def test_a_warning_alert_is_medium_in_both(
    paged_defaults: Paging, cluster: FakeKube, runtime: Runtime, config_dir: Path, tmp_path: Path
) -> None:
    # queue_depth_high has no severity of its own: the alert's label decides, mapped to ours.
    [rule] = [r for r in DEFAULT_RULES if r["name"] == "queue_depth_high"]
    firing = alert_for(rule, "warning")

    assert simulated(config_dir, tmp_path, firing)["severity"] == "medium"
    assert run_for_real(runtime, firing)["severity"] == "medium"
